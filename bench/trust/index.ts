import { benchCosign } from "./cosign";
import { benchReorgToDeny } from "./reorg";
import { benchStaleHead, STALE_HEAD_GOAL_MS } from "./staleHead";
import { benchVerify } from "./verify";

/**
 * Issue 16's figures, side by side in one run: a stalled head to the first refusal, a reorganisation
 * (anvil_reorg) to the first refusal, a checkpoint to two witnesses' cosignatures, and `audit verify`
 * over a million entries. Each part starts what it needs and stops it.
 */
export async function benchTrust(): Promise<Record<string, unknown>> {
  const stale = await benchStaleHead();
  const reorg = await benchReorgToDeny(20);
  const cosign = await benchCosign();
  const verify = await benchVerify(1_000_000);
  return {
    ...stale,
    ...reorg,
    ...cosign,
    ...verify,
    goals: { staleHeadToDenyMs: STALE_HEAD_GOAL_MS, reorgToDenyMs: 500, checkpointToCosignedP99Ms: 1000, verifyEntriesPerSec: 100_000 },
  };
}
