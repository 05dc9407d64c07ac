import { expect } from "chai";
import { Wallet, hexlify } from "ethers";
import { ZERO_HASH, checkpointNote, encodeEntry, entryLeafHash, type AuditEntry } from "../../core/auditEntry";
import { MerkleTree } from "../../core/merkleTree";
import { checkReleaseProof, type ReleaseProof } from "../../auditor/releaseInclusion";

/**
 * A release written into a quiet log with a time of the operator's choosing (before a revocation,
 * on a head of that moment) breaks no rule the auditor can see: only the service knows when it
 * received the data.
 */
describe("a service refutes a release logged as decided long before it received it", function () {
  const signer = new Wallet("0x" + "b2".repeat(32));
  const service = "0x" + "5e".repeat(20);
  const subject = "0x" + "5a".repeat(20);
  const T = 1_800_000_000;

  async function proofFor(decidedAt: number): Promise<ReleaseProof> {
    const entry: AuditEntry = {
      index: 0, at: decidedAt * 1000, kind: "release", requestId: "svc-1", actor: service, subject, grantee: service, category: "c.email", purpose: "p",
      grantBlock: 10, grantTx: null, payloadHash: null, prevHash: ZERO_HASH,
      detail: { grantId: "0x" + "33".repeat(32), decidedAt, headBlock: 49, headHash: "0x" + "44".repeat(32), headTime: decidedAt - 1 },
    };
    const tree = new MerkleTree();
    tree.appendData(encodeEntry(entry));
    const rootHash = hexlify(tree.rootAt(1));
    const note = checkpointNote("test/log", 1, rootHash);
    return {
      entry,
      checkpoint: { treeSize: 1, rootHash, origin: "test/log", note, signature: await signer.signMessage(note), signer: signer.address, signedAt: 0 },
      proof: { index: 0, treeSize: 1, leafHash: entryLeafHash(entry), proof: [] },
    };
  }
  const received = (receivedAt: number) => ({ subject, category: "c.email", purpose: "p", auditIndex: 0, requestId: "svc-1", receivedAt });
  const trust = { signers: [signer.address] };

  it("refutes a release whose logged decision time is far from when the service received it", async function () {
    // Received at T; logged as decided an hour before, on the head of that moment.
    const result = await checkReleaseProof(await proofFor(T - 3600), received(T), service, trust);
    expect(result.status).to.equal("refuted");
    expect(result.problems.join("; ")).to.contain("decided at");
    // Logged as decided when it was received: included.
    expect((await checkReleaseProof(await proofFor(T), received(T + 1), service, trust)).status).to.equal("included");
  });
});
