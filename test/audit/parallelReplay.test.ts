import { expect } from "chai";
import { hexlify } from "ethers";
import { ZERO_HASH, canonicalJson, encodeEntry, type AuditEntry } from "../../core/auditEntry";
import { entryText } from "../../core/entryEncoding";
import { LogReplay, type ChainBreak } from "../../core/logReplay";
import { MerkleTree, nodeHasher } from "../../core/merkleTree";
import { PARALLEL_FROM, replayLog } from "../../auditor/parallelLeaves";

/** The auditor's replay of a large log, with leaves and subtrees hashed in worker threads, against the one-thread replay. */
describe("audit verify: replaying a large log on several threads", function () {
  this.timeout(120_000);

  function log(size: number): AuditEntry[] {
    const entries: AuditEntry[] = [];
    let prev = ZERO_HASH;
    for (let i = 0; i < size; i++) {
      const entry: AuditEntry = {
        index: i, at: 1_800_000_000_000 + i, kind: i % 3 ? "release" : "write", requestId: `r${i}`, actor: "0xaa", subject: "0xbb", grantee: "0xaa", category: "c.é✓",
        purpose: "dpv:ServiceProvision", grantBlock: 7, grantTx: null, payloadHash: null, detail: i % 3 ? { z: i, a: "x", headHash: "0x01", nested: { b: [1, null], a: true } } : { 10: "integer-like key", b: 2 }, prevHash: prev,
      };
      prev = hexlify(nodeHasher.leaf(encodeEntry(entry)));
      entries.push(entry);
    }
    return entries;
  }
  const oneThread = (entries: readonly AuditEntry[]) => {
    const replay = new LogReplay();
    const breaks: ChainBreak[] = [];
    for (const e of entries) {
      const found = replay.push(e);
      if (found) breaks.push(found);
    }
    return { replay, breaks };
  };

  it("builds the same tree and names the same altered, removed and reordered entries as one thread", async function () {
    // Not a multiple of a batch: the last batch is appended leaf by leaf.
    const entries = log(PARALLEL_FROM + 5000 + 3);
    const tampered = entries.slice();
    tampered[9000] = { ...tampered[9000], purpose: "dpv:Marketing" };
    tampered.splice(15_000, 1);
    [tampered[21_000], tampered[21_001]] = [tampered[21_001], tampered[21_000]];
    for (const input of [entries, tampered]) {
      const breaks: ChainBreak[] = [];
      const parallel = await replayLog(input, (b) => breaks.push(b));
      const single = oneThread(input);
      expect(breaks).to.deep.equal(single.breaks);
      expect(parallel.tree.size).to.equal(input.length);
      for (const size of [1, 4096, 4097, 12_345, input.length]) expect(hexlify(parallel.tree.rootAt(size))).to.equal(hexlify(single.replay.tree.rootAt(size)));
    }
    expect((await replayLog(entries, () => expect.fail("an honest log breaks nowhere"))).tree.size).to.equal(entries.length);
  });

  it("writes each entry's canonical text as canonicalJson does, on the fast path and off it", function () {
    for (const entry of log(300)) expect(entryText(entry)).to.equal(canonicalJson(entry));
    const odd = { ...log(1)[0], detail: { list: [1, undefined], ["__proto__"]: 1, when: new Date(0) } } as unknown as AuditEntry;
    expect(entryText(odd)).to.equal(canonicalJson(odd));
  });

  it("appends a whole subtree as the same tree leaf by leaf would be", function () {
    const leaves = Array.from({ length: 64 }, (_, i) => nodeHasher.leaf(new Uint8Array([i])));
    const byLeaf = new MerkleTree();
    for (const leaf of leaves) byLeaf.appendLeafHash(leaf);
    const bySubtree = new MerkleTree();
    for (const leaf of leaves.slice(0, 16)) bySubtree.appendLeafHash(leaf);
    const levels = [Buffer.concat(leaves.slice(16, 32))];
    while (levels[levels.length - 1].length > 32) {
      const below = levels[levels.length - 1];
      const pairs = [];
      for (let i = 0; i < below.length; i += 64) pairs.push(nodeHasher.node(below.subarray(i, i + 32), below.subarray(i + 32, i + 64)));
      levels.push(Buffer.concat(pairs));
    }
    bySubtree.appendSubtree(levels);
    for (const leaf of leaves.slice(32)) bySubtree.appendLeafHash(leaf);
    for (let size = 1; size <= 64; size++) expect(hexlify(bySubtree.rootAt(size))).to.equal(hexlify(byLeaf.rootAt(size)));
    expect(() => new MerkleTree().appendSubtree([Buffer.alloc(64)])).to.throw(RangeError);
    const misaligned = new MerkleTree();
    misaligned.appendLeafHash(leaves[0]);
    expect(() => misaligned.appendSubtree(levels)).to.throw(RangeError, /multiple of 16/);
  });
});
