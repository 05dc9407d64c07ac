import { parentPort } from "node:worker_threads";
import { nodeHasher } from "../core/nodeHasher";

/**
 * The thread side of auditor/parallelLeaves.ts: hashes a batch of entries' canonical texts (UTF-8)
 * into leaves and, for a batch of 2^k, every level of its subtree. Imports only the hasher, so a
 * thread starts quickly.
 */
parentPort!.on("message", ({ id, text, ends }: { id: number; text: string; ends: Uint32Array }) => {
  try {
    const n = ends.length;
    const leaves = Buffer.from(new ArrayBuffer(32 * n));
    // One encoding for the batch; byte offsets are the text's own where it is all ASCII.
    const bytes = Buffer.from(text, "utf8");
    const ascii = bytes.length === text.length;
    for (let i = 0, start = 0, byteStart = 0; i < n; i++) {
      const byteEnd = ascii ? ends[i] : byteStart + Buffer.byteLength(text.slice(start, ends[i]), "utf8");
      leaves.set(nodeHasher.leaf(bytes.subarray(byteStart, byteEnd)), 32 * i);
      start = ends[i];
      byteStart = byteEnd;
    }
    const levels: ArrayBuffer[] = [leaves.buffer];
    if ((n & (n - 1)) === 0) {
      for (let below = leaves, width = n / 2; width >= 1; width /= 2) {
        const level = Buffer.from(new ArrayBuffer(32 * width));
        for (let i = 0; i < width; i++) level.set(nodeHasher.node(below.subarray(64 * i, 64 * i + 32), below.subarray(64 * i + 32, 64 * i + 64)), 32 * i);
        levels.push(level.buffer);
        below = level;
      }
    }
    parentPort!.postMessage({ id, levels, hex: leaves.toString("hex") }, levels);
  } catch (error) {
    parentPort!.postMessage({ id, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  }
});
