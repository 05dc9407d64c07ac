import { createHash, createPrivateKey, createPublicKey, sign as edSign, verify as edVerify, type KeyObject } from "node:crypto";

/**
 * C2SP signed notes (c2sp.org/signed-note): a text signed by one or more keys, each signature on a
 * line of its own after a blank line. Checkpoints are such notes, and witnesses' cosignatures are
 * more signature lines on them. Parsing refuses everything the specification (and Go's reference
 * implementation, whose vectors the tests run) refuses.
 */

/** Signature type bytes (signed-note "Signature types"). */
export const SIG_ED25519 = 0x01;
export const SIG_COSIGNATURE_V1 = 0x04;

/** Go's reference refuses a note with more than this many signatures; the spec asks for at least 16. */
const MAX_SIGNATURES = 100;
const SIG_PREFIX = "\u2014 ";

/** Why a note, key or signature was refused: "malformed" text, a bad "signature", or none "verified". */
export class NoteError extends Error {
  override readonly name = "NoteError";
  constructor(
    readonly code: "malformed" | "invalid-signature" | "unverified" | "bad-key",
    message: string,
  ) {
    super(message);
  }
}

/** Key names: non-empty, no Unicode space, no "+". */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+\u0085]/u.test(name) && isWellFormed(name);
}

const isWellFormed = (text: string) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);

/** key ID = SHA-256(name || "\n" || type || public key)[:4], as a big-endian uint32. */
export function keyId(name: string, type: number, publicKey: Uint8Array): number {
  const digest = createHash("sha256").update(name, "utf8").update(Buffer.from([0x0a, type])).update(publicKey).digest();
  return digest.readUInt32BE(0);
}

/** Standard base64 (RFC 4648 §4) decoded strictly: node's decoder skips characters it does not know. */
export function decodeBase64Strict(text: string): Buffer | null {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? bytes : null;
}

/** DER prefix of a PKCS#8 Ed25519 private key: the 32-byte seed follows it (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
/** DER prefix of an SPKI Ed25519 public key: the 32-byte key follows it. */
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export interface Ed25519Key {
  privateKey: KeyObject;
  /** The raw 32-byte public key. */
  publicKey: Buffer;
}

/** An Ed25519 key from its 32-byte seed. */
export function ed25519FromSeed(seed: Uint8Array): Ed25519Key {
  if (seed.length !== 32) throw new RangeError("an Ed25519 seed is 32 bytes");
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: "der", type: "pkcs8" });
  const publicKey = createPublicKey(privateKey).export({ format: "der", type: "spki" }).subarray(SPKI_ED25519_PREFIX.length);
  return { privateKey, publicKey: Buffer.from(publicKey) };
}

export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new RangeError("an Ed25519 public key is 32 bytes");
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: "der", type: "spki" });
}

/** Checks signatures of one key: a note verifier knows its name and key ID. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  verify(text: string, signature: Uint8Array): boolean;
}

/** Makes signatures with one key. */
export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  sign(text: string): Uint8Array;
}

/** A verifier of plain Ed25519 note signatures (type 0x01) over the note text. */
export function ed25519Verifier(name: string, publicKey: Uint8Array): NoteVerifier {
  if (!isValidKeyName(name)) throw new NoteError("bad-key", `invalid key name ${JSON.stringify(name)}`);
  const key = ed25519PublicKey(publicKey);
  return {
    name,
    keyId: keyId(name, SIG_ED25519, publicKey),
    verify: (text, signature) => signature.length === 64 && edVerify(null, Buffer.from(text, "utf8"), key, signature),
  };
}

/** A signer of plain Ed25519 note signatures (type 0x01), from a seed or a key. */
export function ed25519Signer(name: string, seedOrKey: Uint8Array | Ed25519Key): NoteSigner {
  if (!isValidKeyName(name)) throw new NoteError("bad-key", `invalid key name ${JSON.stringify(name)}`);
  const key = seedOrKey instanceof Uint8Array ? ed25519FromSeed(seedOrKey) : seedOrKey;
  return { name, keyId: keyId(name, SIG_ED25519, key.publicKey), sign: (text) => edSign(null, Buffer.from(text, "utf8"), key.privateKey) };
}

/** A verifier key string: `name+hex key ID+base64(type || public key)`. */
export function formatVerifierKey(name: string, type: number, publicKey: Uint8Array): string {
  const id = keyId(name, type, publicKey).toString(16).padStart(8, "0");
  return `${name}+${id}+${Buffer.concat([Buffer.from([type]), publicKey]).toString("base64")}`;
}

/** A parsed verifier or signer key: its name, key ID, type byte and key material (public key, or seed). */
export interface ParsedKey {
  name: string;
  keyId: number;
  type: number;
  key: Buffer;
}

/** Parses `name+hash+base64(type || key)`, checking the key ID against the rest; refuses unknown types. */
function parseKeyFields(text: string, allowedTypes: readonly number[], idOf: (name: string, type: number, key: Buffer) => number): ParsedKey {
  const bad = (why: string) => new NoteError("bad-key", `invalid key: ${why}`);
  // The base64 key may itself hold "+": only the first two separate fields.
  const first = text.indexOf("+");
  const second = first < 0 ? -1 : text.indexOf("+", first + 1);
  if (second < 0) throw bad("want name+hash+key");
  const [name, hash, encoded] = [text.slice(0, first), text.slice(first + 1, second), text.slice(second + 1)];
  if (!isValidKeyName(name)) throw bad("invalid name");
  if (!/^[0-9a-f]{8}$/.test(hash)) throw bad("the key ID is not 8 lowercase hex digits");
  const raw = decodeBase64Strict(encoded);
  if (!raw || raw.length < 1) throw bad("the key is not base64");
  const type = raw[0];
  const key = raw.subarray(1);
  if (!allowedTypes.includes(type)) throw bad(`unknown signature type 0x${type.toString(16).padStart(2, "0")}`);
  if (key.length !== 32) throw bad("an Ed25519 key is 32 bytes");
  const id = parseInt(hash, 16);
  if (idOf(name, type, key) !== id) throw bad("the key ID does not match the name and key");
  return { name, keyId: id, type, key };
}

/** Parses a verifier key (`name+hash+base64(type || public key)`) of one of `types`. */
export function parseVerifierKey(vkey: string, types: readonly number[] = [SIG_ED25519]): ParsedKey {
  return parseKeyFields(vkey, types, keyId);
}

/** A verifier of plain Ed25519 note signatures from a verifier key string. */
export function verifierFromKey(vkey: string): NoteVerifier {
  const parsed = parseVerifierKey(vkey, [SIG_ED25519]);
  return ed25519Verifier(parsed.name, parsed.key);
}

/** Parses a signer key (`PRIVATE+KEY+name+hash+base64(type || seed)`); the key ID is the public key's. */
export function parseSignerKey(skey: string, types: readonly number[] = [SIG_ED25519]): ParsedKey {
  const prefix = "PRIVATE+KEY+";
  if (!skey.startsWith(prefix)) throw new NoteError("bad-key", "invalid key: a signer key starts with PRIVATE+KEY+");
  return parseKeyFields(skey.slice(prefix.length), types, (name, type, seed) => keyId(name, type, ed25519FromSeed(seed).publicKey));
}

export function formatSignerKey(name: string, type: number, seed: Uint8Array): string {
  const id = keyId(name, type, ed25519FromSeed(seed).publicKey).toString(16).padStart(8, "0");
  return `PRIVATE+KEY+${name}+${id}+${Buffer.concat([Buffer.from([type]), seed]).toString("base64")}`;
}

/** A signer of plain Ed25519 note signatures from a signer key string. */
export function signerFromKey(skey: string): NoteSigner {
  const parsed = parseSignerKey(skey, [SIG_ED25519]);
  return ed25519Signer(parsed.name, parsed.key);
}

/** Whether a note text may be signed: UTF-8 without control characters but newline, ending in one. */
function checkText(text: string, what: string): void {
  if (!isWellFormed(text) || /[\u0000-\u0009\u000b-\u001f]/.test(text)) throw new NoteError("malformed", `${what} holds a control character or invalid UTF-8`);
}

/** One signature line: its key name, key ID and signature bytes (after the ID). */
export interface NoteSignature {
  name: string;
  keyId: number;
  signature: Buffer;
  /** The line as written, without its newline. */
  line: string;
}

/** A signature line for `signature` by the key (`name`, `keyId`). */
export function signatureLine(name: string, id: number, signature: Uint8Array): string {
  const bytes = Buffer.alloc(4 + signature.length);
  bytes.writeUInt32BE(id >>> 0, 0);
  bytes.set(signature, 4);
  return `${SIG_PREFIX}${name} ${bytes.toString("base64")}`;
}

/** Signs `text` (which must end in a newline) with each signer: the whole note. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  checkText(text, "the note text");
  if (!text.endsWith("\n")) throw new NoteError("malformed", "the note text must end in a newline");
  if (signers.length === 0) throw new NoteError("malformed", "a note needs at least one signature");
  return `${text}\n${signers.map((s) => signatureLine(s.name, s.keyId, s.sign(text)) + "\n").join("")}`;
}

/** Splits a signed note into its text and signature lines, checking the format but no signature. */
export function parseNote(message: string): { text: string; signatures: NoteSignature[] } {
  const malformed = (why: string) => new NoteError("malformed", `malformed note: ${why}`);
  checkText(message, "the note");
  const split = message.lastIndexOf("\n\n");
  if (split < 0) throw malformed("no blank line before the signatures");
  const text = message.slice(0, split + 1);
  const block = message.slice(split + 2);
  if (block.length === 0 || !block.endsWith("\n")) throw malformed("the signatures must end in a newline");
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw malformed(`more than ${MAX_SIGNATURES} signatures`);
  const signatures = lines.map((line) => {
    if (!line.startsWith(SIG_PREFIX)) throw malformed("a signature line must start with an em dash and a space");
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(" ");
    const name = space < 0 ? rest : rest.slice(0, space);
    const bytes = space < 0 ? null : decodeBase64Strict(rest.slice(space + 1));
    if (!isValidKeyName(name) || !bytes || bytes.length < 5) throw malformed("a signature line needs a key name and a base64 signature");
    return { name, keyId: bytes.readUInt32BE(0), signature: bytes.subarray(4), line };
  });
  return { text, signatures };
}

/** A note opened with known keys: signatures verified by them, and those from unknown keys. */
export interface OpenedNote {
  text: string;
  verified: NoteSignature[];
  unverified: NoteSignature[];
}

/**
 * Opens a signed note with the verifiers of the keys the caller trusts. Signatures from unknown keys
 * (whose name or ID differ) are set aside; one from a known key that does not verify refuses the
 * whole note; a note without any verified signature is refused. Repeated lines count once.
 */
export function openNote(message: string, verifiers: readonly NoteVerifier[]): OpenedNote {
  const { text, signatures } = parseNote(message);
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seen = new Set<string>();
  for (const sig of signatures) {
    const verifier = verifiers.find((v) => v.name === sig.name && v.keyId === sig.keyId);
    const key = verifier ? `${sig.name}+${sig.keyId}` : sig.line;
    if (seen.has(key)) continue;
    seen.add(key);
    if (!verifier) {
      unverified.push(sig);
      continue;
    }
    if (!verifier.verify(text, sig.signature)) throw new NoteError("invalid-signature", `invalid signature by ${sig.name}`);
    verified.push(sig);
  }
  if (verified.length === 0) throw new NoteError("unverified", "no signature by a known key");
  return { text, verified, unverified };
}
