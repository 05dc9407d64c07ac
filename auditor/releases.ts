import type { AuditEntry } from "../core/auditEntry";
import { grantIdOf, labelToId } from "../core/ids";
import { grantStateAt, type ChainAnchor, type ChainBlock, type ChainHistory, type GrantTimeline } from "./history";

/** Rules a release (or the log's clock) breaks: each means the log cannot be what an honest gateway wrote. */
export type ReleaseRule =
  | "entry-time"
  | "release-no-head"
  | "release-no-window"
  | "release-head-time"
  | "release-stale-head"
  | "release-wrong-actor"
  | "release-without-grant"
  | "release-revoked"
  | "release-expired"
  | "release-data-expired"
  | "release-time"
  | "release-reorged-no-order";

/**
 * What the auditor saw that an honest gateway can also produce, so it does not fail the audit on its
 * own: a release decided on a head a reorganisation later removed, under a grant the canonical chain
 * does not hold then (the service must delete what it received); a gateway clock behind the chain's.
 */
export interface Finding {
  index: number;
  rule: "release-under-reorged-grant" | "release-clock-behind";
  evidence: string;
  /** For a reorganised release: the head it was decided on, the canonical block at that height, the deletion order that followed. */
  forkHash?: string;
  canonicalHash?: string | null;
  deletionOrder?: number | null;
}

export interface ReleaseCheck {
  releases: number;
  findings: Finding[];
  /** Per grant id, its releases' entry indexes and decision times, in log order: a deletion order must follow those it covers. */
  byGrant: Map<string, { index: number[]; decidedAt: number[] }>;
}

type Flag = (index: number | null, rule: ReleaseRule, evidence: string) => void;

interface ReleaseDetail {
  decidedAt?: unknown;
  headBlock?: unknown;
  headHash?: unknown;
  headTime?: unknown;
  grantId?: unknown;
  grantedAt?: unknown;
}

const HASH = /^0x[0-9a-fA-F]{64}$/;
const isTime = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * Section 3 of the audit: entry times never go backwards, and every release was decided on a head
 * the chain vouches for (its hash and time), at most the registered staleness window before it was
 * logged, for the grantee itself, under a grant valid at that moment by the chain's history alone.
 * The window is read from AuditAnchor's registration of the log, never from the gateway.
 */
export async function checkReleases(entries: readonly AuditEntry[], history: ChainHistory, timelines: ReadonlyMap<string, GrantTimeline>, flag: Flag): Promise<ReleaseCheck> {
  const window = history.log ? history.log.maxHeadAgeSeconds : null;
  const slackMs = (window ?? 0) * 1000;
  const blocks = await canonicalBlocks(entries, history);
  // An anchor by a sender without the role then is no evidence (verify reports it as anchor-unauthorized).
  const anchors = history.anchors.filter((a) => a.authorized).sort((x, y) => x.treeSize - y.treeSize);
  const lastOrder = lastDeletionOrders(entries);
  const findings: Finding[] = [];
  const byGrant = new Map<string, { index: number[]; decidedAt: number[] }>();
  let releases = 0;
  let lastAt = -Infinity;
  /** The highest head of an earlier release that the canonical chain still holds: a head may go below it only on a fork. */
  let canonicalMax = -1;
  let behind: { first: number; count: number; by: number } | null = null;
  let anchorAt = 0;
  const grantIds = new Map<string, string>();
  let lastStateKey = "";
  let lastState: ReturnType<typeof grantStateAt> | null = null;

  for (const entry of entries) {
    // Entries are stamped when made and written in batches, so an honest log's times step back a
    // little; by more than the window, a time is the writer's choice.
    if (entry.at < lastAt - slackMs) flag(entry.index, "entry-time", `logged at ${entry.at} ms, more than the ${window ?? 0} s window before the ${lastAt} ms of an earlier entry`);
    lastAt = Math.max(lastAt, entry.at);
    if (entry.kind !== "release") continue;
    releases += 1;
    if (!entry.subject || !entry.grantee || !entry.category || !entry.purpose) {
      flag(entry.index, "release-without-grant", "a release entry without subject, grantee, category and purpose");
      continue;
    }
    if (entry.actor !== entry.grantee) flag(entry.index, "release-wrong-actor", `released to ${entry.actor ?? "nobody"} under a grant to ${entry.grantee}`);
    const detail = (entry.detail ?? {}) as ReleaseDetail;
    const { decidedAt, headBlock, headHash, headTime: statedHeadTime } = detail;
    if (!isTime(decidedAt) || !isTime(headBlock) || typeof headHash !== "string" || !HASH.test(headHash) || !isTime(statedHeadTime)) {
      flag(entry.index, "release-no-head", "a release that does not state the head it was decided on (decidedAt, headBlock, headHash, headTime)");
      continue;
    }
    const canonical = blocks.get(headBlock) ?? null;
    const onFork = canonical === null || canonical.hash !== headHash.toLowerCase();
    // On a fork the head's block is gone: its stated time is all there is, bounded still by the window.
    const headTime = onFork ? statedHeadTime : canonical.timestamp;
    if (!onFork && statedHeadTime !== canonical.timestamp) flag(entry.index, "release-head-time", `states head block ${headBlock}'s time as ${statedHeadTime}; the chain's is ${canonical.timestamp}`);

    // Times: the decision's "now" is never before its head's time nor well before the entry was
    // written, and the head was at most the window old at both.
    const atSec = Math.floor(entry.at / 1000);
    if (decidedAt < headTime) flag(entry.index, "release-time", `decided at ${decidedAt}, before its head block ${headBlock}'s time ${headTime}`);
    if (decidedAt < atSec - 1) flag(entry.index, "release-time", `decided at ${decidedAt}, earlier than it was logged (${atSec})`);
    if (window === null) flag(entry.index, "release-no-window", "AuditAnchor holds no registered log, so no staleness window bounds the head a release was decided on");
    else {
      const age = Math.max(decidedAt, atSec) - headTime;
      if (age > window) flag(entry.index, "release-stale-head", `decided on head block ${headBlock} of time ${headTime}, ${age} s before it was logged: the log's window is ${window} s`);
      if (atSec < headTime - window) {
        if (behind) behind.count += 1;
        else behind = { first: entry.index, count: 1, by: headTime - atSec };
      }
    }

    // Block order: heads never go back, except below a head a reorganisation removed; a head precedes
    // the anchor that covers its entry.
    if (headBlock < canonicalMax) flag(entry.index, "release-time", `claims head block ${headBlock}, below the ${canonicalMax} of an earlier release on the canonical chain`);
    if (!onFork) {
      canonicalMax = Math.max(canonicalMax, headBlock);
      if (entry.grantBlock !== null && headBlock < entry.grantBlock) flag(entry.index, "release-time", `claims head block ${headBlock}, below its own grant's block ${entry.grantBlock}`);
    }
    while (anchorAt < anchors.length && anchors[anchorAt].treeSize <= entry.index) anchorAt += 1;
    const anchor: ChainAnchor | undefined = anchors[anchorAt];
    if (anchor && headBlock >= anchor.blockNumber) flag(entry.index, "release-time", `claims head block ${headBlock}, not before block ${anchor.blockNumber} that anchored it`);

    // The grant, on the canonical chain, as of the blocks up to the head, at the decision's time.
    const pair = `${entry.subject}|${entry.grantee}|${entry.category}|${entry.purpose}`;
    let grantId = grantIds.get(pair);
    if (grantId === undefined) {
      grantId = grantIdOf(entry.subject, entry.grantee, labelToId(entry.category), labelToId(entry.purpose)).toLowerCase();
      grantIds.set(pair, grantId);
    }
    let seen = byGrant.get(grantId);
    if (!seen) byGrant.set(grantId, (seen = { index: [], decidedAt: [] }));
    seen.index.push(entry.index);
    seen.decidedAt.push(decidedAt);
    const timeline = timelines.get(grantId);
    // Releases come in runs under one grant, one head and one second: each state is worked out once per run.
    const stateKey = `${grantId}|${headBlock}|${decidedAt}`;
    if (stateKey !== lastStateKey) {
      lastState = timeline ? grantStateAt(timeline, decidedAt, (e) => e.blockNumber <= headBlock) : null;
      lastStateKey = stateKey;
    }
    const state = lastState;
    if (state?.valid) continue;
    if (onFork) {
      const issuance = `${String(detail.grantId ?? grantId).toLowerCase()}|${String(detail.grantedAt)}`;
      const order = lastOrder.get(issuance);
      const deletionOrder = order !== undefined && order > entry.index ? order : null;
      findings.push({
        index: entry.index,
        rule: "release-under-reorged-grant",
        forkHash: headHash.toLowerCase(),
        canonicalHash: canonical?.hash ?? null,
        deletionOrder,
        evidence:
          `decided on head ${headHash.toLowerCase()} at block ${headBlock}, where the canonical chain holds ${canonical?.hash ?? "no block yet"}; ` +
          `grant ${grantId} is not valid there at ${decidedAt}; ` +
          (deletionOrder === null ? "no deletion order for that issuance followed" : `deletion order at entry ${deletionOrder}`),
      });
      if (deletionOrder === null) flag(entry.index, "release-reorged-no-order", `released under grant ${grantId} on a fork (head ${headHash.toLowerCase()}) and no deletion order for that issuance followed`);
    } else if (!state?.issued) {
      flag(entry.index, "release-without-grant", `no grant ${grantId} from ${entry.subject} to ${entry.grantee} for ${entry.category}/${entry.purpose} existed at ${decidedAt}`);
    } else {
      const rule = state.reason === "revoked" || state.reason === "revoked-all" ? "release-revoked" : state.reason === "data-expired" ? "release-data-expired" : "release-expired";
      flag(entry.index, rule, `grant ${grantId} had ended at ${state.endsAt} (${state.reason}); released at ${decidedAt}`);
    }
  }
  if (behind) {
    findings.push({
      index: behind.first,
      rule: "release-clock-behind",
      evidence: `${behind.count} release(s) logged more than the window before their head's block time (first by ${behind.by} s): the gateway's clock runs behind the chain's`,
    });
  }
  findings.sort((x, y) => x.index - y.index);
  return { releases, findings, byGrant };
}

/** The canonical blocks at every head a release states, read once each, in parallel. */
async function canonicalBlocks(entries: readonly AuditEntry[], history: ChainHistory): Promise<Map<number, ChainBlock | null>> {
  const heights = new Set<number>();
  for (const entry of entries) {
    if (entry.kind !== "release") continue;
    const head = (entry.detail as ReleaseDetail | null)?.headBlock;
    if (isTime(head)) heights.add(head);
  }
  const list = [...heights];
  const read = await Promise.all(list.map((n) => history.blockAt(n)));
  return new Map(list.map((n, i) => [n, read[i] ? { hash: read[i]!.hash.toLowerCase(), timestamp: read[i]!.timestamp } : null]));
}

/** Each grant issuance's last deletion order, by entry index. */
function lastDeletionOrders(entries: readonly AuditEntry[]): Map<string, number> {
  const last = new Map<string, number>();
  for (const entry of entries) {
    if (entry.kind !== "deletion-order") continue;
    const detail = (entry.detail ?? {}) as { grantId?: unknown; grantedAt?: unknown };
    if (typeof detail.grantId === "string") last.set(`${detail.grantId.toLowerCase()}|${String(detail.grantedAt)}`, entry.index);
  }
  return last;
}
