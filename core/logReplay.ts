import { hexlify } from "ethers";
import { ZERO_HASH, encodeEntry, type AuditEntry } from "./auditEntry";
import { MerkleTree } from "./merkleTree";

/** Where a log's sequence or hash chain breaks, naming the entry. */
export interface ChainBreak {
  index: number;
  rule: "entry-missing" | "entry-out-of-order" | "entry-altered";
  evidence: string;
}

/**
 * Replays log entries, in the order given, into a Merkle tree, checking that each sits at its index
 * and links to the one before. The gateway (at start-up) and the auditor both rebuild a log this way.
 */
export class LogReplay {
  private prevHash = ZERO_HASH;
  /** entry.index − position of the latest entry: one finding per shift, not one per entry after it. */
  private offset = 0;

  constructor(readonly tree: MerkleTree = new MerkleTree()) {}

  push(entry: AuditEntry): ChainBreak | null {
    const leaf = this.tree.hasher.leaf(encodeEntry(entry));
    return this.pushLeaf(entry, leaf, hexlify(leaf));
  }

  /** As push, with the entry's leaf hash already computed (bytes and 0x-hex). */
  pushLeaf(entry: AuditEntry, leaf: Uint8Array, leafHex: string): ChainBreak | null {
    const found = this.link(entry, this.tree.size, leafHex);
    this.tree.appendLeafHash(leaf);
    return found;
  }

  /**
   * As push for a run of entries whose tree levels worker threads already hashed: `levels[0]` holds
   * their leaf hashes, each level above the hashes of the pairs below (an aligned, complete subtree;
   * see MerkleTree.appendSubtree). `leavesHex` is the leaves as hex without 0x.
   */
  pushSubtree(entries: readonly AuditEntry[], from: number, levels: readonly Uint8Array[], leavesHex: string, onBreak: (found: ChainBreak) => void): void {
    const position = this.tree.size;
    const n = levels[0].length / 32;
    for (let i = 0; i < n; i++) {
      const found = this.link(entries[from + i], position + i, `0x${leavesHex.slice(64 * i, 64 * i + 64)}`);
      if (found) onBreak(found);
    }
    this.tree.appendSubtree(levels);
  }

  /** Checks that the entry at `position` sits at its index and links to the entry before; `leafHex` becomes the link the next must hold. */
  private link(entry: AuditEntry, position: number, leafHex: string): ChainBreak | null {
    let found: ChainBreak | null = null;
    if (entry.index - position !== this.offset) {
      found = {
        index: position,
        rule: entry.index > position + this.offset ? "entry-missing" : "entry-out-of-order",
        evidence: `position ${position} holds entry ${entry.index}`,
      };
      this.offset = entry.index - position;
    } else if (entry.prevHash !== this.prevHash) {
      found = {
        index: position - 1,
        rule: "entry-altered",
        evidence: `entry ${position - 1} was altered, or entry ${position} moved or inserted: entry ${position} links to ${entry.prevHash}, entry ${position - 1} hashes to ${this.prevHash}`,
      };
    }
    this.prevHash = leafHex;
    return found;
  }
}
