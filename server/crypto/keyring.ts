import { hkdfSync } from "node:crypto";
import { newDataKey, open, pack, seal, unpack } from "./envelope";
import type { DataStore } from "../store/types";

/**
 * Per-subject data keys, wrapped by the master key. Destroying a subject's wrapped key makes every
 * ciphertext of that subject unreadable (crypto-shredding).
 */
export class Keyring {
  private readonly wrapKey: Buffer;
  /** Unwrapped keys of recently served subjects; a destroyed key leaves this cache at once. */
  private readonly unwrapped = new Map<string, Buffer>();

  constructor(
    masterKey: Buffer,
    private readonly store: Pick<DataStore, "getWrappedKey" | "putWrappedKey" | "deleteWrappedKey">,
  ) {
    if (masterKey.length !== 32) throw new RangeError("the master key must be 32 bytes");
    this.wrapKey = Keyring.derive(masterKey, "wrap-data-keys");
  }

  /** A key derived from the master key for another purpose (token MACs, log salts). */
  static derive(masterKey: Buffer, purpose: string): Buffer {
    return Buffer.from(hkdfSync("sha256", masterKey, Buffer.alloc(0), `data-use-ledger/${purpose}`, 32));
  }

  /** The subject's data key, created on first use. */
  keyFor(subject: string): Buffer {
    return this.existingKey(subject) ?? this.createKey(subject);
  }

  existingKey(subject: string): Buffer | null {
    const cached = this.unwrapped.get(subject);
    if (cached) return cached;
    const wrapped = this.store.getWrappedKey(subject);
    if (!wrapped) return null;
    const key = open(this.wrapKey, unpack(wrapped), `data-key:${subject}`);
    if (this.unwrapped.size >= 10_000) this.unwrapped.clear();
    this.unwrapped.set(subject, key);
    return key;
  }

  destroy(subject: string): void {
    this.store.deleteWrappedKey(subject);
    this.unwrapped.get(subject)?.fill(0);
    this.unwrapped.delete(subject);
  }

  private createKey(subject: string): Buffer {
    const key = newDataKey();
    this.store.putWrappedKey(subject, pack(seal(this.wrapKey, key, `data-key:${subject}`)));
    return key;
  }
}
