import { createHmac } from "node:crypto";

/**
 * The keyed hash a log entry holds of the value it wrote or released: HMAC-SHA256 under the
 * gateway's payload key, so the operator can show which value it was while nobody else can test a
 * guess (an email address) against the log.
 */
export function payloadHash(payloadKey: Uint8Array, subject: string, category: string, plaintext: Uint8Array): string {
  return "0x" + createHmac("sha256", payloadKey).update(`${subject}\n${category}\n`).update(plaintext).digest("hex");
}
