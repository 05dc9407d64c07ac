import { getBytes, sha256 } from "ethers";

/**
 * RFC 6962 / RFC 9162 Merkle tree hashing and proof verification (SHA-256; leaf prefix 0x00, node
 * prefix 0x01). Browser-safe: the wallet page verifies inclusion proofs with these functions, the
 * gateway and the auditor's tool with the same ones.
 */

export type Hash = Uint8Array;

export interface Hasher {
  leaf(data: Uint8Array): Hash;
  node(left: Hash, right: Hash): Hash;
}

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

/** The portable hasher (ethers' SHA-256); the gateway passes node:crypto's, which is faster. */
export const portableHasher: Hasher = {
  leaf(data) {
    const buf = new Uint8Array(data.length + 1);
    buf[0] = LEAF_PREFIX;
    buf.set(data, 1);
    return getBytes(sha256(buf));
  },
  node(left, right) {
    const buf = new Uint8Array(65);
    buf[0] = NODE_PREFIX;
    buf.set(left, 1);
    buf.set(right, 33);
    return getBytes(sha256(buf));
  },
};

/** SHA-256 of the empty string: the root of the empty tree. */
export const EMPTY_ROOT = getBytes(sha256(new Uint8Array(0)));

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);
const toBytes = (h: Hash | string) => (typeof h === "string" ? getBytes(h) : h);

/**
 * RFC 9162 §2.1.3.2: whether `proof` shows the leaf with hash `leafHash` at `index` in the tree of
 * `treeSize` leaves whose root is `root`. Any malformed input (index out of range, wrong proof
 * length, a hash that is not 32 bytes) is simply "not proven".
 */
export function verifyInclusion(
  leafHash: Hash | string,
  index: number,
  treeSize: number,
  proof: readonly (Hash | string)[],
  root: Hash | string,
  hasher: Hasher = portableHasher,
): boolean {
  try {
    if (!Number.isSafeInteger(index) || !Number.isSafeInteger(treeSize) || index < 0 || index >= treeSize) return false;
    let fn = BigInt(index);
    let sn = BigInt(treeSize - 1);
    let r = toBytes(leafHash);
    if (r.length !== 32) return false;
    for (const p of proof.map(toBytes)) {
      if (p.length !== 32 || sn === 0n) return false;
      if ((fn & 1n) === 1n || fn === sn) {
        r = hasher.node(p, r);
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        r = hasher.node(r, p);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    return sn === 0n && equal(r, toBytes(root));
  } catch {
    return false;
  }
}

/** RFC 9162 §2.1.4.2: whether `proof` shows the tree of `size2` leaves (root2) extends the one of `size1` (root1). */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly (Hash | string)[],
  root1: Hash | string,
  root2: Hash | string,
  hasher: Hasher = portableHasher,
): boolean {
  try {
    if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size2 < size1) return false;
    const r1 = toBytes(root1);
    const r2 = toBytes(root2);
    // RFC 9162 requires 0 < size1: every tree extends the empty one, so proving it says nothing.
    if (size1 === 0) return false;
    if (size1 === size2) return proof.length === 0 && equal(r1, r2);
    if (proof.length === 0) return false;
    let path = proof.map(toBytes);
    if (path.some((p) => p.length !== 32)) return false;
    // When size1 is a power of two the old root is itself a node of the new tree: the proof omits it.
    if ((size1 & (size1 - 1)) === 0) path = [r1, ...path];
    let fn = BigInt(size1 - 1);
    let sn = BigInt(size2 - 1);
    while ((fn & 1n) === 1n) {
      fn >>= 1n;
      sn >>= 1n;
    }
    let fr = path[0];
    let sr = path[0];
    for (const c of path.slice(1)) {
      if (sn === 0n) return false;
      if ((fn & 1n) === 1n || fn === sn) {
        fr = hasher.node(c, fr);
        sr = hasher.node(c, sr);
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        sr = hasher.node(sr, c);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    return sn === 0n && equal(fr, r1) && equal(sr, r2);
  } catch {
    return false;
  }
}

