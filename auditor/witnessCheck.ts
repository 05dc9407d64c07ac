import { getBytes } from "ethers";
import { cosignatureVerifier, logVerifier, withCosignatures, type CosignatureVerifier } from "../core/checkpoint";
import { NoteError, SIG_COSIGNATURE_V1, openNote, parseVerifierKey, type NoteVerifier } from "../core/signedNote";
import type { SignedCheckpoint } from "../server/store/types";

/** What the auditor trusts for checkpoints' signed notes: the log's key and the witnesses it requires. */
export interface WitnessPolicy {
  /** The log's Ed25519 note key (0x-hex, 32 bytes), as registered for the log on chain. */
  logNoteKey?: string | null;
  /** The log's registered origin: the key name its notes are signed under. */
  logOrigin?: string | null;
  /** Witnesses' verifier keys (C2SP tlog-cosignature, type 0x04). */
  witnesses?: readonly string[];
  /** How many of them must have cosigned the latest checkpoint. */
  quorum?: number;
}

export interface NoteFinding {
  rule: "checkpoint-note-signature" | "checkpoint-cosignature" | "checkpoint-unwitnessed";
  evidence: string;
}

/** Parses the policy's witness keys; a bad key is the auditor's usage error, thrown. */
export function witnessVerifiers(policy: WitnessPolicy): CosignatureVerifier[] {
  // One key is one witness: a cosignature/v1 line signs no key name, so the same key given twice, or
  // under another name, would let one witness's line count twice.
  const byKey = new Map<string, CosignatureVerifier>();
  for (const vkey of policy.witnesses ?? []) byKey.set(parseVerifierKey(vkey, [SIG_COSIGNATURE_V1]).key.toString("hex"), cosignatureVerifier(vkey));
  const verifiers = [...byKey.values()];
  const quorum = policy.quorum ?? verifiers.length;
  if (!Number.isSafeInteger(quorum) || quorum < 0 || quorum > verifiers.length) throw new RangeError(`a quorum of ${quorum} out of ${verifiers.length} witnesses`);
  return verifiers;
}

/** Whether `note` opens with `verifier`: true, false when it carries no line of that key, or the error of a line that fails. */
function opens(note: string, verifier: NoteVerifier): true | false | NoteError {
  try {
    openNote(note, [verifier]);
    return true;
  } catch (error) {
    if (!(error instanceof NoteError)) throw error;
    return error.code === "unverified" ? false : error;
  }
}

/**
 * Checks each checkpoint's C2SP signed note against the log's key, and that the latest checkpoint
 * carries cosignatures of at least `quorum` of the given witnesses. Witnesses cosign a checkpoint
 * only if it extends the one they cosigned before, so a witnessed latest checkpoint puts every
 * earlier one the log reproduces on the branch the witnesses saw: there is no second log shown to
 * someone else that they also cosigned.
 */
export function checkCheckpointNotes(checkpoints: readonly SignedCheckpoint[], policy: WitnessPolicy, entries: number): NoteFinding[] {
  const findings: NoteFinding[] = [];
  const witnesses = witnessVerifiers(policy);
  const quorum = policy.quorum ?? witnesses.length;
  // "0x" (no key registered) checks nothing; a key of another length cannot verify any note.
  const logKey = policy.logNoteKey && policy.logNoteKey !== "0x" ? getBytes(policy.logNoteKey) : null;
  if (logKey && logKey.length !== 32) return [{ rule: "checkpoint-note-signature", evidence: `the log's registered note key ${policy.logNoteKey} is not a 32-byte Ed25519 key` }];
  let latest: SignedCheckpoint | null = null;
  const valid = new Map<SignedCheckpoint, number>();
  for (const c of checkpoints) {
    if (!latest || c.treeSize > latest.treeSize) latest = c;
    if (!c.signedNote) continue;
    // The note must carry the very text whose root the log reproduces (and EIP-191 signs).
    let noteOk = c.signedNote.startsWith(`${c.note}\n`);
    if (!noteOk) findings.push({ rule: "checkpoint-note-signature", evidence: `checkpoint of size ${c.treeSize}: its signed note's text is not the checkpoint's` });
    else if (logKey) {
      const opened = opens(c.signedNote, logVerifier(policy.logOrigin ?? c.origin, logKey));
      noteOk = opened === true;
      if (!noteOk) findings.push({ rule: "checkpoint-note-signature", evidence: `checkpoint of size ${c.treeSize}: its signed note is not signed by the log's registered key${opened instanceof NoteError ? ` (${opened.message})` : ""}` });
    }
    const full = withCosignatures(c.signedNote, c.cosignatures ?? []);
    let count = 0;
    for (const w of witnesses) {
      const opened = opens(full, w);
      if (opened === true) count += 1;
      else if (opened instanceof NoteError) findings.push({ rule: "checkpoint-cosignature", evidence: `checkpoint of size ${c.treeSize}: the cosignature of ${w.name} does not verify (${opened.message})` });
    }
    if (noteOk) valid.set(c, count);
  }
  if (quorum > 0 && entries > 0) {
    const count = latest ? (valid.get(latest) ?? 0) : 0;
    if (!latest) findings.push({ rule: "checkpoint-unwitnessed", evidence: `no signed checkpoint, and ${quorum} witnesses' cosignatures are required` });
    else if (count < quorum) {
      findings.push({ rule: "checkpoint-unwitnessed", evidence: `the latest checkpoint (size ${latest.treeSize}) carries ${count} valid cosignatures of the ${witnesses.length} witnesses given; ${quorum} are required` });
    }
  }
  return findings;
}
