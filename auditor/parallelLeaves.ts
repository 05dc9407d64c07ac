import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { Worker } from "node:worker_threads";
import { sourceExtension, startWorker } from "../core/startWorker";
import type { AuditEntry } from "../core/auditEntry";
import { entryText } from "../core/entryEncoding";
import { LogReplay, type ChainBreak } from "../core/logReplay";

/** Below this many entries one thread is quicker than starting others. */
export const PARALLEL_FROM = 20_000;
/** Entries per message, a power of two: each batch is a whole subtree of the log's tree. */
const BATCH = 4096;
/** Batches handed out ahead of the one being consumed. */
const AHEAD = 6;

interface Hashed {
  levels: Uint8Array[];
  hex: string;
}

/**
 * Replays `entries` into a LogReplay (core/logReplay.ts). For a large log the caller's thread only
 * writes entries' canonical JSON (the part that needs the objects) and checks their links; worker
 * threads encode it to UTF-8 and hash the leaves and each batch's subtree. Copying entries as
 * objects to a thread cost about as much as encoding them; a string costs next to nothing.
 */
export async function replayLog(entries: readonly AuditEntry[], onBreak: (found: ChainBreak) => void, threads = availableParallelism()): Promise<LogReplay> {
  const replay = new LogReplay();
  if (entries.length < PARALLEL_FROM) {
    for (const entry of entries) {
      const found = replay.push(entry);
      if (found) onBreak(found);
    }
    return replay;
  }
  const workers: Worker[] = Array.from({ length: threads }, () => startWorker(join(__dirname, `leafWorker${sourceExtension}`), null));
  const pending = new Map<number, { resolve: (h: Hashed) => void; reject: (e: Error) => void }>();
  let failure: Error | null = null;
  for (const worker of workers) {
    worker.on("message", (msg: { id: number; levels?: ArrayBuffer[]; hex?: string; error?: string }) => {
      const waiting = pending.get(msg.id)!;
      pending.delete(msg.id);
      if (msg.error !== undefined) waiting.reject(new Error(`leaf hashing failed: ${msg.error}`));
      else waiting.resolve({ levels: msg.levels!.map((l) => new Uint8Array(l)), hex: msg.hex! });
    });
    worker.on("error", (error: Error) => {
      failure = error;
      for (const waiting of pending.values()) waiting.reject(error);
      pending.clear();
    });
  }
  const batches = Math.ceil(entries.length / BATCH);
  const results: Promise<Hashed>[] = [];
  const send = (id: number) => {
    const from = id * BATCH;
    const to = Math.min(entries.length, from + BATCH);
    // One string per batch, the entries' texts back to back: a string crosses to a thread as one copy.
    let text = "";
    const ends = new Uint32Array(to - from);
    for (let i = from; i < to; i++) {
      text += entryText(entries[i]);
      ends[i - from] = text.length;
    }
    const result = new Promise<Hashed>((resolve, reject) => {
      if (failure) return reject(failure);
      pending.set(id, { resolve, reject });
      workers[id % workers.length].postMessage({ id, text, ends });
    });
    // Awaited in turn; a failure of a batch sent ahead must not go unhandled meanwhile.
    result.catch(() => undefined);
    results[id] = result;
  };
  try {
    let sent = 0;
    for (let next = 0; next < batches; next++) {
      while (sent < batches && sent <= next + AHEAD) send(sent++);
      const { levels, hex } = await results[next];
      delete results[next];
      const from = next * BATCH;
      if (levels.length > 1 && replay.tree.size === from) replay.pushSubtree(entries, from, levels, hex, onBreak);
      else {
        for (let i = 0; i < levels[0].length / 32; i++) {
          const found = replay.pushLeaf(entries[from + i], levels[0].subarray(32 * i, 32 * i + 32), `0x${hex.slice(64 * i, 64 * i + 64)}`);
          if (found) onBreak(found);
        }
      }
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return replay;
}
