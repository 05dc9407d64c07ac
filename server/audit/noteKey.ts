import { ed25519FromSeed, type Ed25519Key } from "../../core/signedNote";
import { Keyring } from "../crypto/keyring";

/** The log's Ed25519 key; `publicKey` (32 raw bytes) is what is registered for the log on AuditAnchor. */
export type NoteKey = Ed25519Key;

export { ed25519FromSeed };

/**
 * The key that signs the log's checkpoints as C2SP signed notes. Derived from the master key so that
 * every replica of one gateway signs as one log without another secret to distribute.
 */
export function checkpointNoteKey(masterKey: Buffer): NoteKey {
  return ed25519FromSeed(Keyring.derive(masterKey, "checkpoint-note"));
}
