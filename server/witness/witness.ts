import type { Logger } from "pino";
import { Cosigner, parseCheckpointText } from "../../core/checkpoint";
import { verifyConsistency } from "../../core/merkle";
import { NoteError, decodeBase64Strict, openNote, parseNote, verifierFromKey, type NoteVerifier } from "../../core/signedNote";
import type { WitnessStore } from "./witnessStore";

/** An answer of the add-checkpoint call: status, content type and text body. */
export interface WitnessAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** tlog-witness allows at most 63 consistency proof lines. */
const MAX_PROOF_LINES = 63;

const text = (status: number, code: string, message: string): WitnessAnswer => ({ status, contentType: "text/plain; charset=utf-8", body: `${code}: ${message}\n` });
const sizeConflict = (size: number): WitnessAnswer => ({ status: 409, contentType: "text/x.tlog.size", body: `${size}\n` });

/** The add-checkpoint request body: the old size, the consistency proof and the checkpoint note. */
export function parseAddCheckpoint(body: string): { oldSize: number; proof: Buffer[]; note: string } | null {
  const split = body.indexOf("\n\n");
  if (split < 0) return null;
  const [oldLine, ...proofLines] = body.slice(0, split).split("\n");
  const old = /^old (0|[1-9][0-9]{0,15})$/.exec(oldLine);
  if (!old || !Number.isSafeInteger(Number(old[1])) || proofLines.length > MAX_PROOF_LINES) return null;
  const proof = proofLines.map(decodeBase64Strict);
  if (proof.some((hash) => !hash || hash.length !== 32)) return null;
  return { oldSize: Number(old[1]), proof: proof as Buffer[], note: body.slice(split + 2) };
}

/** The add-checkpoint request body a log sends (tlog-witness). */
export function formatAddCheckpoint(oldSize: number, proof: readonly Uint8Array[], note: string): string {
  return `old ${oldSize}\n${proof.map((hash) => `${Buffer.from(hash).toString("base64")}\n`).join("")}\n${note}`;
}

/**
 * A C2SP tlog-witness: it cosigns a log's checkpoint only if the log signed it and it extends, by a
 * consistency proof, the latest checkpoint the witness cosigned for that log. Two checkpoints of
 * one size with different roots are a split view: it keeps both notes as proof and refuses.
 */
export class Witness {
  private readonly logs = new Map<string, NoteVerifier>();

  constructor(
    private readonly store: WitnessStore,
    readonly cosigner: Cosigner,
    logKeys: readonly string[],
    private readonly logger: Logger,
    /** POSIX seconds, for the cosignature's time. */
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {
    for (const vkey of logKeys) {
      const verifier = verifierFromKey(vkey);
      this.logs.set(verifier.name, verifier);
    }
  }

  /** Handles one add-checkpoint body, synchronously: no other request runs between its check and its write. */
  addCheckpoint(body: string): WitnessAnswer {
    const request = parseAddCheckpoint(body);
    if (!request) return text(400, "bad-request", "want an old size line, at most 63 base64 proof lines, a blank line and a checkpoint");
    let checkpoint;
    try {
      checkpoint = parseCheckpointText(parseNote(request.note).text);
    } catch (error) {
      return text(400, "malformed-checkpoint", (error as Error).message);
    }
    const verifier = this.logs.get(checkpoint.origin);
    if (!verifier) return text(404, "unknown-log", `no log with origin ${checkpoint.origin} is configured`);
    try {
      openNote(request.note, [verifier]);
    } catch (error) {
      if (error instanceof NoteError) return text(403, "bad-signature", `the checkpoint is not signed by the log's key: ${error.message}`);
      throw error;
    }
    if (request.oldSize > checkpoint.treeSize) return text(400, "bad-request", `old size ${request.oldSize} is above the checkpoint's ${checkpoint.treeSize}`);
    const known = this.store.latestFor(checkpoint.origin);
    // Validly signed, same size, another root: whatever old size the request gives, this is proof.
    if (known && known.treeSize === checkpoint.treeSize && known.rootHash !== checkpoint.rootHash) {
      const file = this.store.saveEquivocation({ origin: checkpoint.origin, treeSize: checkpoint.treeSize, notes: [known.note, request.note], seenAt: this.now() });
      this.logger.error({ origin: checkpoint.origin, treeSize: checkpoint.treeSize, file }, "split view: two checkpoints of one size with different roots, both signed by the log");
      return sizeConflict(known.treeSize);
    }
    const knownSize = known?.treeSize ?? 0;
    if (request.oldSize !== knownSize) return sizeConflict(knownSize);
    if (known && request.oldSize > 0) {
      if (!verifyConsistency(known.treeSize, checkpoint.treeSize, request.proof, known.rootHash, checkpoint.rootHash)) {
        this.logger.warn({ origin: checkpoint.origin, from: known.treeSize, to: checkpoint.treeSize, note: request.note }, "a signed checkpoint that does not extend the one cosigned");
        return text(422, "inconsistent", `the proof does not show size ${checkpoint.treeSize} extends the cosigned size ${known.treeSize}`);
      }
    } else if (request.proof.length > 0) {
      return text(422, "inconsistent", "a proof from size 0 must be empty");
    }
    if (!known || checkpoint.treeSize > known.treeSize) this.store.saveLatest({ ...checkpoint, note: request.note });
    return { status: 200, contentType: "text/plain; charset=utf-8", body: `${this.cosigner.cosign(parseNote(request.note).text, this.now())}\n` };
  }

  equivocations() {
    return this.store.equivocations();
  }
}
