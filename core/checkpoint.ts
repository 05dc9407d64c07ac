import { sign as edSign, verify as edVerify } from "node:crypto";
import {
  NoteError,
  SIG_COSIGNATURE_V1,
  SIG_ED25519,
  decodeBase64Strict,
  ed25519FromSeed,
  ed25519PublicKey,
  ed25519Verifier,
  formatVerifierKey,
  isValidKeyName,
  keyId,
  parseVerifierKey,
  signatureLine,
  type NoteVerifier,
} from "./signedNote";

/**
 * C2SP tlog-checkpoint note bodies and tlog-cosignature (cosignature/v1, Ed25519 with a timestamp).
 * The body is written by checkpointNote (core/auditEntry.ts); this file reads it back and speaks
 * the witnesses' signatures over it.
 */

export interface CheckpointBody {
  origin: string;
  treeSize: number;
  /** 0x-hex, as the rest of the code writes roots. */
  rootHash: string;
}

/** Reads a checkpoint note text: origin, tree size (decimal, no leading zero), base64 root, then non-empty extension lines. */
export function parseCheckpointText(text: string): CheckpointBody {
  const bad = (why: string) => new NoteError("malformed", `malformed checkpoint: ${why}`);
  if (!text.endsWith("\n")) throw bad("the text must end in a newline");
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) throw bad("want origin, size and root lines");
  const [origin, size, root, ...extensions] = lines;
  if (origin.length === 0) throw bad("empty origin");
  if (!/^(0|[1-9][0-9]{0,15})$/.test(size) || !Number.isSafeInteger(Number(size))) throw bad("the size is not a decimal without leading zeros");
  const rootBytes = decodeBase64Strict(root);
  if (!rootBytes || rootBytes.length !== 32) throw bad("the root is not 32 bytes of base64");
  if (extensions.some((line) => line.length === 0)) throw bad("empty extension line");
  return { origin, treeSize: Number(size), rootHash: `0x${rootBytes.toString("hex")}` };
}

/** The log's verifier: the key name is the origin (tlog-checkpoint), the key its 32-byte Ed25519 public key. */
export function logVerifier(origin: string, publicKey: Uint8Array): NoteVerifier {
  return ed25519Verifier(origin, publicKey);
}

/** The message a cosignature/v1 signs: a header line, a time line, then the checkpoint's note text. */
export function cosignatureMessage(text: string, timestamp: number): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${timestamp}\n${text}`, "utf8");
}

/** A witness's key: its name and Ed25519 seed; signs cosignature/v1 lines. */
export class Cosigner {
  readonly keyId: number;
  readonly publicKey: Buffer;
  private readonly key;

  constructor(
    readonly name: string,
    seed: Uint8Array,
  ) {
    if (!isValidKeyName(name)) throw new NoteError("bad-key", `invalid key name ${JSON.stringify(name)}`);
    this.key = ed25519FromSeed(seed);
    this.publicKey = this.key.publicKey;
    this.keyId = keyId(name, SIG_COSIGNATURE_V1, this.publicKey);
  }

  /** The verifier key others configure: `name+id+base64(0x04 || public key)`. */
  get verifierKey(): string {
    return formatVerifierKey(this.name, SIG_COSIGNATURE_V1, this.publicKey);
  }

  /** The cosignature line (without newline) on the checkpoint `text`, stamped with `timestamp` (POSIX seconds). */
  cosign(text: string, timestamp: number): string {
    if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new RangeError("a cosignature's time is a non-negative integer of seconds");
    const signature = edSign(null, cosignatureMessage(text, timestamp), this.key.privateKey);
    const bytes = Buffer.alloc(8 + signature.length);
    bytes.writeBigUInt64BE(BigInt(timestamp), 0);
    bytes.set(signature, 8);
    return signatureLine(this.name, this.keyId, bytes);
  }
}

/** A verifier of a witness's cosignature/v1 lines; `timestamp` reads the time a verified one carries. */
export interface CosignatureVerifier extends NoteVerifier {
  readonly verifierKey: string;
}

/** Reads the time a cosignature/v1 signature (8-byte time || Ed25519 signature) carries. */
export function cosignatureTime(signature: Uint8Array): number | null {
  if (signature.length !== 72) return null;
  const t = Buffer.from(signature).readBigUInt64BE(0);
  return t <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(t) : null;
}

/** A verifier for a witness's verifier key (type 0x04). */
export function cosignatureVerifier(vkey: string): CosignatureVerifier {
  const parsed = parseVerifierKey(vkey, [SIG_COSIGNATURE_V1]);
  const key = ed25519PublicKey(parsed.key);
  return {
    name: parsed.name,
    keyId: parsed.keyId,
    verifierKey: vkey,
    verify(text, signature) {
      const timestamp = cosignatureTime(signature);
      if (timestamp === null) return false;
      return edVerify(null, cosignatureMessage(text, timestamp), key, signature.subarray(8));
    },
  };
}

/** A log's verifier key string (type 0x01) from its origin and public key. */
export function logVerifierKey(origin: string, publicKey: Uint8Array): string {
  return formatVerifierKey(origin, SIG_ED25519, publicKey);
}

/** A checkpoint's signed note with witnesses' cosignature lines appended: the note a client verifies. */
export function withCosignatures(signedNote: string, cosignatures: readonly string[]): string {
  return signedNote + cosignatures.map((line) => `${line}\n`).join("");
}
