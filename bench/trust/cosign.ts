import hre from "hardhat";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { logEntry } from "../../server/audit/accessLog";
import { deployLedger } from "../../scripts/lib/deploy";
import { removeDir, startTestGateway } from "../../test/helpers/gateway";
import { logKeyOf } from "../../test/helpers/witness";
import { startNodeProcess, type NodeProcess } from "../lib/processes";

const CHECKPOINTS = 250;
const ENTRIES_PER_CHECKPOINT = 10;

/**
 * Checkpoint to K = 2 cosignatures: a gateway (in process) and two witnesses, each in a process of
 * its own as `dul witness` runs, on loopback. Each round appends entries, signs a checkpoint (EIP-191
 * and Ed25519 note) and waits until both witnesses' cosignatures are stored; the figure is the p99
 * of that time over the rounds. A round that ends without both cosignatures fails the bench.
 */
export async function benchCosign(): Promise<{ checkpointToCosignedP99Ms: number }> {
  // The gateway waits on its log writer's thread, which does not hold the event loop open: without
  // something that does (bench/run.ts has its RPC server), the process would end mid-start.
  const keepAlive = setInterval(() => undefined, 60_000);
  const deployment = await deployLedger(hre);
  const logKey = await logKeyOf(deployment);
  const dir = mkdtempSync(join(tmpdir(), "dul-bench-cosign-"));
  const witnesses: NodeProcess[] = [];
  try {
    for (const name of ["w1", "w2"]) {
      witnesses.push(await startNodeProcess("bench/trust/witnessMain.ts", { WITNESS_DIR: join(dir, name), WITNESS_NAME: `bench/${name}`, LOG_KEY: logKey }, "/"));
    }
    const gw = await startTestGateway({
      deployment,
      env: { CHECKPOINT_INTERVAL_MS: "100000", ANCHOR_INTERVAL_MS: "100000", WITNESS_URLS: witnesses.map((w) => w.url).join(",") },
    });
    const times: number[] = [];
    try {
      for (let round = 0; round < CHECKPOINTS; round++) {
        gw.gateway.store.appendLog(Array.from({ length: ENTRIES_PER_CHECKPOINT }, (_, i) => logEntry({ kind: "write", requestId: `bench-${round}-${i}` })));
        const start = performance.now();
        const checkpoint = await gw.gateway.audit.checkpoint();
        await gw.gateway.audit.cosigned();
        times.push(performance.now() - start);
        const cosigned = gw.gateway.audit.latestCheckpoint()!;
        if (!checkpoint || cosigned.treeSize !== checkpoint.treeSize || cosigned.cosignatures?.length !== 2) {
          throw new Error(`round ${round}: the checkpoint of size ${checkpoint?.treeSize} has ${cosigned.cosignatures?.length ?? 0} cosignatures, not 2`);
        }
      }
    } finally {
      await gw.close();
      removeDir(gw.dataDir);
    }
    times.sort((a, b) => a - b);
    const p99 = times[Math.min(times.length - 1, Math.ceil(times.length * 0.99) - 1)];
    return { checkpointToCosignedP99Ms: Number(p99.toFixed(1)) };
  } finally {
    await Promise.all(witnesses.map((w) => w.stop()));
    removeDir(dir);
    clearInterval(keepAlive);
  }
}
