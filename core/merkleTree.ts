import { EMPTY_ROOT, type Hash, type Hasher } from "./merkle";
import { nodeHasher } from "./nodeHasher";

export { nodeHasher };

/** A growable array of 32-byte hashes in one buffer: a million leaves cost 32 MB, not a million objects. */
class HashArray {
  private buf = Buffer.alloc(32 * 1024);
  length = 0;

  push(hash: Hash): void {
    if ((this.length + 1) * 32 > this.buf.length) {
      const bigger = Buffer.alloc(this.buf.length * 2);
      this.buf.copy(bigger);
      this.buf = bigger;
    }
    this.buf.set(hash, this.length * 32);
    this.length += 1;
  }

  /** Appends hashes packed back to back. */
  pushAll(hashes: Uint8Array): void {
    let size = this.buf.length;
    while (this.length * 32 + hashes.length > size) size *= 2;
    if (size > this.buf.length) {
      const bigger = Buffer.alloc(size);
      this.buf.copy(bigger);
      this.buf = bigger;
    }
    this.buf.set(hashes, this.length * 32);
    this.length += hashes.length / 32;
  }

  at(i: number): Buffer {
    return this.buf.subarray(i * 32, i * 32 + 32);
  }
}

const largestPowerOfTwoBelow = (n: number): number => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};

/**
 * An append-only RFC 6962 tree that keeps every complete subtree's hash, level by level, so that
 * the root at any earlier size, an inclusion proof and a consistency proof each cost O(log² n)
 * hashes at most, whatever the size.
 */
export class MerkleTree {
  /** levels[k][i] is the hash of leaves [i·2^k, (i+1)·2^k). */
  private readonly levels: HashArray[] = [new HashArray()];

  constructor(readonly hasher: Hasher = nodeHasher) {}

  get size(): number {
    return this.levels[0].length;
  }

  appendData(data: Uint8Array): Hash {
    const leaf = this.hasher.leaf(data);
    this.appendLeafHash(leaf);
    return leaf;
  }

  appendLeafHash(leaf: Hash): void {
    if (leaf.length !== 32) throw new RangeError("a leaf hash is 32 bytes");
    this.levels[0].push(leaf);
    let index = this.levels[0].length - 1;
    for (let level = 0; index % 2 === 1; level++) {
      if (!this.levels[level + 1]) this.levels.push(new HashArray());
      this.levels[level + 1].push(this.hasher.node(this.levels[level].at(index - 1), this.levels[level].at(index)));
      index = (index - 1) / 2;
    }
  }

  /**
   * Appends 2^k leaves at once with every level of their subtree hashed already (by worker
   * threads): `levels[j]` holds the 2^(k-j) hashes of level j, packed. The tree's size must be a
   * multiple of 2^k, so the subtree is one the tree keeps whole; the levels above are hashed here.
   */
  appendSubtree(levels: readonly Uint8Array[]): void {
    const k = levels.length - 1;
    const width = 2 ** k;
    if (levels[0].length !== 32 * width || this.size % width !== 0 || levels.some((level, j) => level.length !== 32 * (width >> j))) {
      throw new RangeError(`a subtree of ${width} leaves must start at a multiple of ${width} with every level complete`);
    }
    for (let j = 0; j <= k; j++) {
      if (!this.levels[j]) this.levels.push(new HashArray());
      this.levels[j].pushAll(levels[j]);
    }
    let index = this.levels[k].length - 1;
    for (let level = k; index % 2 === 1; level++) {
      if (!this.levels[level + 1]) this.levels.push(new HashArray());
      this.levels[level + 1].push(this.hasher.node(this.levels[level].at(index - 1), this.levels[level].at(index)));
      index = (index - 1) / 2;
    }
  }

  leafHash(index: number): Hash {
    this.checkRange(index, 0, this.size - 1);
    return this.levels[0].at(index);
  }

  /** The root of the first `size` leaves. */
  rootAt(size = this.size): Hash {
    this.checkRange(size, 0, this.size);
    return size === 0 ? EMPTY_ROOT : this.subtree(0, size);
  }

  /** RFC 9162 §2.1.3.1: the audit path of leaf `index` in the tree of the first `size` leaves. */
  inclusionProof(index: number, size = this.size): Hash[] {
    this.checkRange(size, 1, this.size);
    this.checkRange(index, 0, size - 1);
    const proof: Hash[] = [];
    let lo = 0;
    let hi = size;
    // Walks down from the root; the siblings are collected top-down, the proof lists them bottom-up.
    while (hi - lo > 1) {
      const k = largestPowerOfTwoBelow(hi - lo);
      if (index < lo + k) {
        proof.push(this.subtree(lo + k, hi));
        hi = lo + k;
      } else {
        proof.push(this.subtree(lo, lo + k));
        lo += k;
      }
    }
    return proof.reverse();
  }

  /** RFC 9162 §2.1.4.1: the proof that the tree of `size2` leaves extends the one of `size1`. */
  consistencyProof(size1: number, size2 = this.size): Hash[] {
    this.checkRange(size2, 0, this.size);
    this.checkRange(size1, 0, size2);
    if (size1 === 0 || size1 === size2) return [];
    const proof: Hash[] = [];
    let lo = 0;
    let hi = size2;
    let m = size1;
    let complete = true;
    for (;;) {
      const n = hi - lo;
      if (m === n) {
        if (!complete) proof.push(this.subtree(lo, hi));
        break;
      }
      const k = largestPowerOfTwoBelow(n);
      if (m <= k) {
        proof.push(this.subtree(lo + k, hi));
        hi = lo + k;
      } else {
        proof.push(this.subtree(lo, lo + k));
        lo += k;
        m -= k;
        complete = false;
      }
    }
    return proof.reverse();
  }

  /** MTH of leaves [lo, hi): a stored node when the range is an aligned power of two, else split. */
  private subtree(lo: number, hi: number): Hash {
    const n = hi - lo;
    if ((n & (n - 1)) === 0) {
      const level = Math.log2(n);
      if (lo % n === 0 && this.levels[level] && (lo >> level) < this.levels[level].length) return this.levels[level].at(lo / n);
    }
    const k = largestPowerOfTwoBelow(n);
    return this.hasher.node(this.subtree(lo, lo + k), this.subtree(lo + k, hi));
  }

  private checkRange(value: number, min: number, max: number): void {
    if (!Number.isSafeInteger(value) || value < min || value > max) throw new RangeError(`${value} is outside [${min}, ${max}]`);
  }
}
