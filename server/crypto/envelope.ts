import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/** AES-256-GCM ciphertext with its nonce and tag, the unit the store keeps. */
export interface Sealed {
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

const ALGORITHM = "aes-256-gcm";

/** Encrypts `plaintext` under `key` (32 bytes); `aad` binds it to where it is stored. */
export function seal(key: Buffer, plaintext: Buffer, aad: string): Sealed {
  const iv = randomBytes(12);
  const cipher = createCipheriv(ALGORITHM, key, iv);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ciphertext, tag: cipher.getAuthTag() };
}

/** Decrypts what {@link seal} produced; throws if the key, aad or bytes differ. */
export function open(key: Buffer, sealed: Sealed, aad: string): Buffer {
  const decipher = createDecipheriv(ALGORITHM, key, sealed.iv);
  decipher.setAAD(Buffer.from(aad, "utf8"));
  decipher.setAuthTag(sealed.tag);
  return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
}

/** A fresh data key for one subject. */
export function newDataKey(): Buffer {
  return randomBytes(32);
}

/** Serialises a sealed value into one buffer: iv (12) | tag (16) | ciphertext. */
export function pack(sealed: Sealed): Buffer {
  return Buffer.concat([sealed.iv, sealed.tag, sealed.ciphertext]);
}

export function unpack(packed: Buffer): Sealed {
  return { iv: packed.subarray(0, 12), tag: packed.subarray(12, 28), ciphertext: packed.subarray(28) };
}
