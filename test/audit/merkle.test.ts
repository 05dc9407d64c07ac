import { expect } from "chai";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { EMPTY_ROOT, portableHasher, verifyConsistency, verifyInclusion } from "../../core/merkle";
import { MerkleTree, nodeHasher } from "../../core/merkleTree";

/** The Certificate Transparency reference vectors, read from ../shared (see its README). */
const VECTORS = join(__dirname, "..", "..", "..", "shared", "testdata", "rfc6962");
const b64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));
const hex = (h: Uint8Array) => Buffer.from(h).toString("hex");

interface InclusionCase { leafIdx: number; treeSize: number; root: string; leafHash: string; proof: string[] | null; desc: string; wantErr: boolean }
interface ConsistencyCase { size1: number; size2: number; root1: string; root2: string; proof: string[] | null; desc: string; wantErr: boolean }

function cases<T>(kind: string): { name: string; data: T }[] {
  const files = readdirSync(join(VECTORS, kind), { recursive: true, withFileTypes: true }).filter((f) => f.isFile() && f.name.endsWith(".json"));
  return files.map((f) => ({ name: join(f.parentPath, f.name).slice(VECTORS.length + 1), data: JSON.parse(readFileSync(join(f.parentPath, f.name), "utf8")) as T }));
}

describe("RFC 6962 Merkle tree (the access log's)", function () {
  const reference = JSON.parse(readFileSync(join(VECTORS, "reference-roots.json"), "utf8")) as { leafInputsHex: string[]; rootOfFirstNLeavesHex: string[] };
  const leaves = reference.leafInputsHex.map((h) => new Uint8Array(Buffer.from(h, "hex")));

  it("reproduces the reference roots for sizes 0 to 8, with both hashers", function () {
    for (const hasher of [nodeHasher, portableHasher]) {
      const tree = new MerkleTree(hasher);
      expect(hex(tree.rootAt())).to.equal(reference.rootOfFirstNLeavesHex[0]);
      leaves.forEach((leaf, i) => {
        tree.appendData(leaf);
        expect(hex(tree.rootAt()), `size ${i + 1}`).to.equal(reference.rootOfFirstNLeavesHex[i + 1]);
      });
      for (let n = 0; n <= leaves.length; n++) expect(hex(tree.rootAt(n)), `root at ${n}`).to.equal(reference.rootOfFirstNLeavesHex[n]);
    }
    expect(hex(EMPTY_ROOT)).to.equal(reference.rootOfFirstNLeavesHex[0]);
  });

  const inclusion = cases<InclusionCase>("inclusion");
  const consistency = cases<ConsistencyCase>("consistency");

  it(`accepts the valid inclusion vectors and rejects every mutated one (${inclusion.length} cases)`, function () {
    expect(inclusion.filter((c) => c.data.wantErr).length).to.be.greaterThan(20);
    for (const { name, data } of inclusion) {
      const ok = verifyInclusion(b64(data.leafHash ?? ""), data.leafIdx, data.treeSize, (data.proof ?? []).map(b64), b64(data.root ?? ""), nodeHasher);
      expect(ok, `${name}: ${data.desc}`).to.equal(!data.wantErr);
      const portable = verifyInclusion(b64(data.leafHash ?? ""), data.leafIdx, data.treeSize, (data.proof ?? []).map(b64), b64(data.root ?? ""));
      expect(portable, `${name} (portable)`).to.equal(!data.wantErr);
    }
  });

  it(`accepts the valid consistency vectors and rejects every mutated one (${consistency.length} cases)`, function () {
    expect(consistency.filter((c) => c.data.wantErr).length).to.be.greaterThan(20);
    for (const { name, data } of consistency) {
      const ok = verifyConsistency(data.size1, data.size2, (data.proof ?? []).map(b64), b64(data.root1 ?? ""), b64(data.root2 ?? ""), nodeHasher);
      expect(ok, `${name}: ${data.desc}`).to.equal(!data.wantErr);
    }
  });

  it("generates inclusion and consistency proofs that verify for every index and size up to 33, and fail when mutated", function () {
    const tree = new MerkleTree();
    for (let i = 0; i < 33; i++) tree.appendData(Buffer.from(`entry ${i}`));
    for (let size = 1; size <= 33; size++) {
      const root = tree.rootAt(size);
      for (let index = 0; index < size; index++) {
        const proof = tree.inclusionProof(index, size);
        expect(verifyInclusion(tree.leafHash(index), index, size, proof, root, nodeHasher), `${index}/${size}`).to.equal(true);
        expect(verifyInclusion(tree.leafHash(index), index + 1, size, proof, root, nodeHasher)).to.equal(false);
        if (proof.length > 0) {
          const flipped = proof.map((p) => Buffer.from(p));
          flipped[0][0] ^= 1;
          expect(verifyInclusion(tree.leafHash(index), index, size, flipped, root, nodeHasher)).to.equal(false);
        }
        expect(verifyInclusion(tree.leafHash(index), index, size, [...proof, tree.leafHash(0)], root, nodeHasher)).to.equal(false);
      }
      for (let size1 = 1; size1 <= size; size1++) {
        const proof = tree.consistencyProof(size1, size);
        expect(verifyConsistency(size1, size, proof, tree.rootAt(size1), root, nodeHasher), `${size1}->${size}`).to.equal(true);
        if (size1 > 0 && size1 < size) {
          const wrongOld = Buffer.from(tree.rootAt(size1));
          wrongOld[31] ^= 1;
          expect(verifyConsistency(size1, size, proof, wrongOld, root, nodeHasher)).to.equal(false);
          expect(verifyConsistency(size1, size, [...proof, root], tree.rootAt(size1), root, nodeHasher)).to.equal(false);
        }
      }
    }
  });

  it("rejects out-of-range sizes and indexes instead of answering", function () {
    const tree = new MerkleTree();
    tree.appendData(Buffer.from("a"));
    expect(() => tree.rootAt(2)).to.throw(RangeError);
    expect(() => tree.inclusionProof(1, 1)).to.throw(RangeError);
    expect(() => tree.consistencyProof(2, 1)).to.throw(RangeError);
  });
});
