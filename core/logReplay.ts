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
    const position = this.tree.size;
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
    this.prevHash = hexlify(this.tree.appendData(encodeEntry(entry)));
    return found;
  }
}
