import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { Keyring } from "../crypto/keyring";

/** DER prefix of a PKCS#8 Ed25519 private key: the 32-byte seed follows it (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

export interface NoteKey {
  privateKey: KeyObject;
  /** The raw 32-byte Ed25519 public key, as registered for the log on AuditAnchor. */
  publicKey: Buffer;
}

/** An Ed25519 key from its 32-byte seed. */
export function ed25519FromSeed(seed: Buffer): NoteKey {
  if (seed.length !== 32) throw new RangeError("an Ed25519 seed is 32 bytes");
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: "der", type: "pkcs8" });
  const jwk = createPublicKey(privateKey).export({ format: "jwk" });
  return { privateKey, publicKey: Buffer.from(jwk.x!, "base64url") };
}

/**
 * The key that signs the log's checkpoints as C2SP signed notes. Derived from the master key so that
 * every replica of one gateway signs as one log without another secret to distribute.
 */
export function checkpointNoteKey(masterKey: Buffer): NoteKey {
  return ed25519FromSeed(Keyring.derive(masterKey, "checkpoint-note"));
}
