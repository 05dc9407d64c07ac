import { verifyMessage } from "ethers";
import { checkpointNote, entryLeafHash, type AuditEntry } from "../core/auditEntry";
import { verifyInclusion } from "../core/merkle";
import type { SignedCheckpoint } from "../server/store/types";
import { checkCheckpointNotes, type WitnessPolicy } from "./witnessCheck";

/**
 * A service's check that a release it received is in the gateway's signed log: the auditor sees
 * only what was logged, so a release answered and never logged is caught by the party holding it.
 */

/** What the service received: the release answer's fields and the request id it sent (x-request-id). */
export interface ReceivedRelease {
  subject: string;
  category: string;
  purpose: string;
  auditIndex: number;
  /** The id the service sent as `x-request-id`, unique per request: the entry must carry it, so an index cannot be answered twice. */
  requestId?: string;
  grant?: { grantId?: string; blockNumber?: number };
  /** When the service received it (POSIX seconds, its own clock): the entry's decision time must be near it, so a release cannot be logged as decided before a revocation it came after. */
  receivedAt?: number;
}

/** The gateway's answer to GET /v1/audit/releases/:auditIndex/proof. */
export interface ReleaseProof {
  entry: AuditEntry;
  checkpoint: SignedCheckpoint;
  proof: { index: number; treeSize: number; leafHash: string; proof: string[] };
}

/**
 * Whose checkpoints the service accepts: EIP-191 by a fixed list of signer addresses, or a lookup
 * (AuditAnchor's anchoring role); and, as the auditor asks, a quorum of witnesses' cosignatures.
 * Without witnesses the gateway can prove the release in a log it shows no one else.
 */
export interface CheckpointTrust extends WitnessPolicy {
  signers?: readonly string[];
  isAnchorer?: (address: string) => Promise<boolean>;
  /** How far the entry's decision time may lie from `receivedAt` (clock skew and latency); 30 s by default. */
  clockToleranceSeconds?: number;
}

export interface InclusionResult {
  /** included: in a checkpoint the service trusts; pending: no checkpoint covers it yet; refuted: the log does not hold this release. */
  status: "included" | "pending" | "refuted";
  problems: string[];
  proof: ReleaseProof | null;
}

/** Why the checkpoint is not one the service trusts, or null when it is. */
export async function checkpointProblem(checkpoint: SignedCheckpoint, trust: CheckpointTrust): Promise<string | null> {
  if (checkpoint.note !== checkpointNote(checkpoint.origin, checkpoint.treeSize, checkpoint.rootHash)) return "the checkpoint's note does not state its origin, size and root";
  let signer = "";
  try {
    signer = verifyMessage(checkpoint.note, checkpoint.signature).toLowerCase();
  } catch {
    return "the checkpoint's signature does not parse";
  }
  const listed = (trust.signers ?? []).some((a) => a.toLowerCase() === signer);
  if (listed || (trust.isAnchorer !== undefined && (await trust.isAnchorer(signer)))) return null;
  return `the checkpoint is signed by ${signer}, not a signer the service trusts`;
}

/** Checks a proof answer against what the service received, as `self`: the entry, the inclusion proof, the checkpoint's signature. */
export async function checkReleaseProof(answer: ReleaseProof, received: ReceivedRelease, self: string, trust: CheckpointTrust): Promise<InclusionResult> {
  const problems: string[] = [];
  const { entry, checkpoint, proof } = answer;
  const me = self.toLowerCase();
  const expected: [string, unknown, unknown][] = [
    ["index", entry.index, received.auditIndex],
    ["kind", entry.kind, "release"],
    ["subject", entry.subject, received.subject.toLowerCase()],
    ["category", entry.category, received.category],
    ["purpose", entry.purpose, received.purpose],
    ["actor", entry.actor, me],
    ["grantee", entry.grantee, me],
  ];
  if (received.requestId !== undefined) expected.push(["requestId", entry.requestId, received.requestId]);
  const detail = (entry.detail ?? {}) as { grantId?: unknown; decidedAt?: unknown };
  if (received.receivedAt !== undefined) {
    const tolerance = trust.clockToleranceSeconds ?? 30;
    if (typeof detail.decidedAt !== "number" || Math.abs(detail.decidedAt - received.receivedAt) > tolerance) {
      problems.push(`the entry says the release was decided at ${JSON.stringify(detail.decidedAt)}, not within ${tolerance} s of ${received.receivedAt} when it was received`);
    }
  }
  if (received.grant?.grantId !== undefined) expected.push(["grantId", detail.grantId, received.grant.grantId.toLowerCase()]);
  if (received.grant?.blockNumber !== undefined) expected.push(["grantBlock", entry.grantBlock, received.grant.blockNumber]);
  for (const [field, got, want] of expected) if (got !== want) problems.push(`the entry's ${field} is ${JSON.stringify(got)}, not ${JSON.stringify(want)}`);

  // The leaf from the entry as served, never the gateway's leafHash: a proof of another leaf proves nothing.
  let leaf = "";
  try {
    leaf = entryLeafHash(entry);
  } catch {
    problems.push("the entry cannot be encoded");
  }
  if (proof.index !== received.auditIndex || proof.treeSize !== checkpoint.treeSize) problems.push("the proof is not for this entry in the checkpoint's tree");
  else if (leaf && !safeVerify(leaf, proof.index, proof.treeSize, proof.proof, checkpoint.rootHash)) problems.push(`the entry is not in the tree of size ${checkpoint.treeSize} with root ${checkpoint.rootHash}`);
  const untrusted = await checkpointProblem(checkpoint, trust);
  if (untrusted) problems.push(untrusted);
  // The checkpoint the release is proved in must be the one the witnesses saw: the log everyone else is shown.
  if (trust.logOrigin && checkpoint.origin !== trust.logOrigin) problems.push(`the checkpoint names origin ${JSON.stringify(checkpoint.origin)}, not the log's ${JSON.stringify(trust.logOrigin)}`);
  for (const f of checkCheckpointNotes([checkpoint], trust, 1)) problems.push(f.evidence);
  return { status: problems.length === 0 ? "included" : "refuted", problems, proof: answer };
}

function safeVerify(leaf: string, index: number, treeSize: number, proof: string[], root: string): boolean {
  try {
    return Array.isArray(proof) && verifyInclusion(leaf, index, treeSize, proof, root);
  } catch {
    return false;
  }
}

/**
 * One call: asks the gateway for the release's entry, the latest signed checkpoint covering it and
 * the inclusion proof, and checks all three. `token` signs in as the service the release went to.
 */
export async function verifyReleaseInclusion(base: string, token: string, self: string, received: ReceivedRelease, trust: CheckpointTrust): Promise<InclusionResult> {
  const res = await fetch(`${base.replace(/\/$/, "")}/v1/audit/releases/${received.auditIndex}/proof`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json().catch(() => null)) as (ReleaseProof & { error?: { code: string; message: string } }) | null;
  if (res.status === 409 && body?.error?.code === "NOT_YET_CHECKPOINTED") return { status: "pending", problems: [body.error.message], proof: null };
  if (res.status === 403) return { status: "refuted", problems: [`the gateway holds no release to ${self.toLowerCase()} at entry ${received.auditIndex}: ${body?.error?.message ?? ""}`], proof: null };
  if (!res.ok || !body?.entry || !body.checkpoint || !body.proof) throw new Error(`release proof for entry ${received.auditIndex}: ${res.status} ${body?.error ? `${body.error.code}: ${body.error.message}` : ""}`);
  return checkReleaseProof(body, received, self, trust);
}
