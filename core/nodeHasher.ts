import { hash } from "node:crypto";
import type { Hasher } from "./merkle";

/**
 * node:crypto's SHA-256 with the RFC 6962 prefixes: the gateway's and the auditor's hasher. One-shot
 * hashes of the prefixed bytes: a Hash object per leaf and node cost the auditor's replay about as
 * much again as the hashing.
 */
export const nodeHasher: Hasher = {
  leaf: (data) => {
    const input = Buffer.allocUnsafe(data.length + 1);
    input[0] = 0x00;
    input.set(data, 1);
    return hash("sha256", input, "buffer");
  },
  node: (left, right) => {
    const input = Buffer.allocUnsafe(65);
    input[0] = 0x01;
    input.set(left, 1);
    input.set(right, 33);
    return hash("sha256", input, "buffer");
  },
};
