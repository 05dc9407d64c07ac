import { hexlify, verifyMessage } from "ethers";
import { checkpointNote, type AuditEntry } from "../core/auditEntry";
import { replayLog } from "./parallelLeaves";
import type { SignedCheckpoint } from "../server/store/types";
import { checkCheckpointNotes } from "./witnessCheck";
import { grantTimelines, type ChainHistory, type GrantTimeline } from "./history";
import { checkReleases, type Finding, type ReleaseRule } from "./releases";
import { dataExpiriesDue, issuanceEnds } from "./grantEnds";

export type { Finding } from "./releases";

export type Rule =
  | ReleaseRule
  | "entry-missing"
  | "entry-out-of-order"
  | "entry-altered"
  | "checkpoint-signature"
  | "checkpoint-mismatch"
  | "checkpoint-beyond-log"
  | "checkpoint-note-signature"
  | "checkpoint-cosignature"
  | "checkpoint-unwitnessed"
  | "anchor-mismatch"
  | "anchor-beyond-log"
  | "anchor-unauthorized"
  | "equivocation"
  | "deletion-order-missing"
  | "deletion-receipt-missing";

export interface Violation {
  /** The log entry it is about, when one can be named. */
  index: number | null;
  rule: Rule;
  evidence: string;
}

export interface VerifyReport {
  ok: boolean;
  entries: number;
  releases: number;
  checkpoints: number;
  anchors: number;
  grantEnds: number;
  dataExpiries: number;
  /** Seconds from a grant's end (or a data expiry) to the gateway's order (or receipt). */
  lateness: { p50: number | null; max: number | null };
  violations: Violation[];
  /** What an honest gateway can also produce (a release on a head a reorganisation removed): reported, never failing the audit alone. */
  findings: Finding[];
}

export interface VerifyInput {
  entries: readonly AuditEntry[];
  checkpoints: readonly SignedCheckpoint[];
  history: ChainHistory;
  /** Grant ends and data expiries younger than this (seconds before the chain head) are not yet due. */
  graceSeconds?: number;
  /** Witnesses' verifier keys (C2SP tlog-cosignature) whose cosignatures count, and how many the latest checkpoint needs. */
  witnesses?: readonly string[];
  quorum?: number;
  /** The log's Ed25519 note key (0x-hex); by default the one registered for the log on chain (history.log). */
  logNoteKey?: string | null;
}

/**
 * Checks the gateway's access log against the chain. Sizes and roots come only from checkpoints
 * signed by an account holding AuditAnchor's anchoring role, and from anchors read off the chain:
 * nothing is taken from the party that serves the entries.
 */
export async function verifyLog(input: VerifyInput): Promise<VerifyReport> {
  const { entries, history } = input;
  const grace = input.graceSeconds ?? 60;
  const violations: Violation[] = [];
  const flag = (index: number | null, rule: Rule, evidence: string) => violations.push({ index, rule, evidence });

  // 1. The sequence and its hash chain: names an entry removed, moved, inserted or edited in place.
  const replay = await replayLog(entries, (found) => flag(found.index, found.rule, found.evidence));
  const tree = replay.tree;
  const rootAt = (size: number) => hexlify(tree.rootAt(size));
  const firstFlagged = () => violations.find((v) => v.index !== null)?.index ?? null;

  // 2. Signed checkpoints and on-chain anchors: the log must reproduce every root.
  const signerOk = new Map<string, boolean>();
  const agreed: { size: number; root: string; what: string }[] = [];
  for (const c of input.checkpoints) {
    let signer = "";
    try {
      signer = verifyMessage(c.note, c.signature).toLowerCase();
    } catch {
      /* an unparseable signature is reported below */
    }
    if (!signerOk.has(signer)) signerOk.set(signer, signer !== "" && (await history.isAnchorer(signer)));
    if (!signerOk.get(signer) || c.note !== checkpointNote(c.origin, c.treeSize, c.rootHash)) {
      flag(null, "checkpoint-signature", `checkpoint of size ${c.treeSize} is not signed by an anchorer of AuditAnchor (recovered ${signer || "nothing"})`);
      continue;
    }
    // Witnesses keep one record per origin: a checkpoint under another origin is another log to them,
    // so its cosignatures say nothing about a split view of this one.
    if (history.log && c.origin !== history.log.origin) {
      flag(null, "checkpoint-signature", `checkpoint of size ${c.treeSize} names origin ${JSON.stringify(c.origin)}, not the registered log's ${JSON.stringify(history.log.origin)}`);
      continue;
    }
    agreed.push({ size: c.treeSize, root: c.rootHash.toLowerCase(), what: `signed checkpoint of size ${c.treeSize}` });
  }
  // The same checkpoints as C2SP signed notes: the log's Ed25519 key, and the witnesses' quorum.
  for (const f of checkCheckpointNotes(input.checkpoints, { logNoteKey: input.logNoteKey ?? history.log?.noteKey, logOrigin: history.log?.origin, witnesses: input.witnesses, quorum: input.quorum }, entries.length)) flag(null, f.rule, f.evidence);
  for (const a of history.anchors) {
    // An anchor by an account without the role then is no evidence the log agreed to anything.
    if (!a.authorized) {
      flag(null, "anchor-unauthorized", `anchor of size ${a.treeSize} (block ${a.blockNumber}, tx ${a.txHash}) was sent by ${a.anchorer}, which did not hold ANCHORER_ROLE then: ignored`);
      continue;
    }
    agreed.push({ size: a.treeSize, root: a.rootHash, what: `anchor of size ${a.treeSize} (block ${a.blockNumber}, tx ${a.txHash})` });
  }
  agreed.sort((x, y) => x.size - y.size);
  const bySize = new Map<number, { root: string; what: string }>();
  let lastGood = 0;
  for (const { size, root, what } of agreed) {
    const seen = bySize.get(size);
    if (seen && seen.root !== root) flag(null, "equivocation", `${what} and ${seen.what} give different roots for the same size`);
    bySize.set(size, { root, what });
    const isAnchor = what.startsWith("anchor");
    if (size > entries.length) {
      flag(entries.length, isAnchor ? "anchor-beyond-log" : "checkpoint-beyond-log", `${what}, but the log holds ${entries.length} entries: entries from ${entries.length} were removed`);
    } else if (size > 0 && rootAt(size) !== root) {
      const named = firstFlagged();
      flag(named !== null && named < size ? named : lastGood, isAnchor ? "anchor-mismatch" : "checkpoint-mismatch",
        `${what} does not match the log: entries in [${lastGood}, ${size}) were rewritten`);
    } else {
      lastGood = Math.max(lastGood, size);
    }
  }

  // 3. Every release on a head the chain vouches for, under a grant valid at its moment (auditor/releases.ts).
  const timelines = new Map<string, GrantTimeline>(grantTimelines(history.events).map((t) => [t.grantId, t]));
  const { releases, findings, byGrant } = await checkReleases(entries, history, timelines, flag);

  // 4. Every grant end has a deletion order; every data expiry a deletion receipt: every end of
  // every issuance (a revived grant ends again) and every value a data expiry held that fell due.
  const dueBefore = history.headTime - grace;
  const ordersFor = new Map<string, AuditEntry>();
  const receipts = new Map<string, AuditEntry>();
  for (const entry of entries) {
    const detail = (entry.detail ?? {}) as { grantId?: string; grantedAt?: number; endedAt?: number; rule?: string; categoryId?: string; expiresAt?: number };
    if (entry.kind === "deletion-order" && detail.grantId) ordersFor.set(`${detail.grantId}|${detail.grantedAt}|${detail.endedAt}`, entry);
    if (entry.kind === "deletion" && detail.rule === "data-expiry") receipts.set(`${entry.subject}|${detail.categoryId}|${detail.expiresAt}`, entry);
  }
  // A receipt claims the data gone: no release of it decided before the expiry may come after.
  const releasedData = new Map<string, { index: number[]; decidedAt: number[] }>();
  for (const [grantId, seen] of byGrant) {
    const timeline = timelines.get(grantId);
    if (!timeline) continue;
    const key = `${timeline.subject}|${timeline.category}`;
    const all = releasedData.get(key) ?? { index: [], decidedAt: [] };
    // Concatenated, not pushed as arguments: one grant can hold more releases than a call's arguments.
    all.index = all.index.concat(seen.index);
    all.decidedAt = all.decidedAt.concat(seen.decidedAt);
    releasedData.set(key, all);
  }
  const lastReleaseBefore = (seen: { index: number[]; decidedAt: number[] } | undefined, from: number, until: number) => {
    let last = -1;
    if (seen) for (let i = 0; i < seen.index.length; i++) if (seen.decidedAt[i] >= from && seen.decidedAt[i] < until) last = Math.max(last, seen.index[i]);
    return last;
  };
  const lateness: number[] = [];
  let grantEnds = 0;
  for (const timeline of timelines.values()) {
    for (const end of issuanceEnds(timeline, dueBefore)) {
      grantEnds += 1;
      const order = ordersFor.get(`${end.grantId}|${end.grantedAt}|${end.endedAt}`);
      // An order covers only what the service held when it was sent: it must follow every release decided in that stretch.
      const covered = lastReleaseBefore(byGrant.get(end.grantId), end.grantedAt, end.endedAt);
      if (!order) flag(null, "deletion-order-missing", `grant ${end.grantId} (${end.subject} → ${end.grantee}) issued at ${end.grantedAt} ended at ${end.endedAt} (${end.reason}) and no deletion order was logged`);
      else if (order.index < covered) flag(null, "deletion-order-missing", `grant ${end.grantId} (${end.subject} → ${end.grantee}) issued at ${end.grantedAt} ended at ${end.endedAt} (${end.reason}): its deletion order (entry ${order.index}) precedes release ${covered}, and none followed it`);
      else lateness.push(Math.max(0, Math.floor(order.at / 1000) - end.endedAt));
    }
  }
  let dataExpiries = 0;
  for (const d of dataExpiriesDue(history.events, dueBefore)) {
    dataExpiries += 1;
    const receipt = receipts.get(`${d.subject}|${d.category}|${d.expiresAt}`);
    const covered = lastReleaseBefore(releasedData.get(`${d.subject}|${d.category}`), 0, d.expiresAt);
    if (!receipt) flag(null, "deletion-receipt-missing", `${d.subject}'s data of category ${d.category} expired at ${d.expiresAt} and no deletion receipt was logged`);
    else if (receipt.index < covered) flag(null, "deletion-receipt-missing", `${d.subject}'s data of category ${d.category} expired at ${d.expiresAt}: its deletion receipt (entry ${receipt.index}) precedes release ${covered} of that data`);
    else lateness.push(Math.max(0, Math.floor(receipt.at / 1000) - d.expiresAt));
  }
  lateness.sort((a, b) => a - b);

  return {
    ok: violations.length === 0,
    entries: entries.length,
    releases,
    checkpoints: input.checkpoints.length,
    anchors: history.anchors.length,
    grantEnds,
    dataExpiries,
    lateness: { p50: lateness.length ? lateness[Math.floor(lateness.length / 2)] : null, max: lateness.length ? lateness[lateness.length - 1] : null },
    violations,
    findings,
  };
}
