import { expect } from "chai";
import { Wallet, hexlify } from "ethers";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { ZERO_HASH, checkpointNote, encodeEntry, entryLeafHash, type AuditEntry } from "../../core/auditEntry";
import { Cosigner, logVerifierKey } from "../../core/checkpoint";
import { MerkleTree } from "../../core/merkleTree";
import { SIG_COSIGNATURE_V1, ed25519FromSeed, ed25519Signer, formatVerifierKey, keyId, parseNote, signNote, signatureLine } from "../../core/signedNote";
import type { ChainHistory } from "../../auditor/history";
import { verifyLog, type VerifyReport } from "../../auditor/verify";
import { witnessVerifiers } from "../../auditor/witnessCheck";
import { formatAddCheckpoint, Witness } from "../../server/witness/witness";
import { WitnessStore } from "../../server/witness/witnessStore";
import type { SignedCheckpoint } from "../../server/store/types";
import { removeDir } from "../helpers/gateway";
import { checkReleaseProof, type ReleaseProof } from "../../auditor/releaseInclusion";

/**
 * A dishonest operator against the witnesses: real witnesses cosign what it sends them, and the
 * auditor is handed whatever checkpoints it chooses to serve.
 */
describe("audit verify: witnesses' cosignatures a dishonest operator could bend", function () {
  const origin = "gateway.test/log";
  const anchorer = new Wallet("0x" + "a1".repeat(32));
  const logKey = ed25519FromSeed(Buffer.alloc(32, 7));
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "dul-wforge-"))));
  afterEach(() => removeDir(dir));

  const history = (): ChainHistory => ({
    events: [], anchors: [], headTime: 1_800_000_000, headBlock: 100,
    isAnchorer: async (a) => a.toLowerCase() === anchorer.address.toLowerCase(),
    blockAt: async () => null,
    log: { logId: "0x" + "11".repeat(32), origin, noteKey: hexlify(logKey.publicKey), maxHeadAgeSeconds: 30, blockNumber: 1 },
  });

  function chain(n: number, tag: string): AuditEntry[] {
    const out: AuditEntry[] = [];
    for (let i = 0; i < n; i++) {
      const entry: AuditEntry = {
        index: i, at: 1_800_000_000_000 + i, kind: "write", requestId: `${tag}${i}`, actor: null, subject: null, grantee: null, category: null, purpose: null,
        grantBlock: null, grantTx: null, payloadHash: null, detail: null, prevHash: i ? entryLeafHash(out[i - 1]) : ZERO_HASH,
      };
      out.push(entry);
    }
    return out;
  }
  const rootOf = (entries: AuditEntry[]) => {
    const tree = new MerkleTree();
    for (const e of entries) tree.appendData(encodeEntry(e));
    return hexlify(tree.rootAt(entries.length));
  };

  /** The checkpoint of `entries` under `noteOrigin`, signed by the log's key under each of `keyNames`. */
  async function checkpoint(entries: AuditEntry[], noteOrigin: string, keyNames: string[]): Promise<SignedCheckpoint> {
    const rootHash = rootOf(entries);
    const note = checkpointNote(noteOrigin, entries.length, rootHash);
    return {
      treeSize: entries.length, rootHash, origin: noteOrigin, note, signature: await anchorer.signMessage(note), signer: anchorer.address, signedAt: 0,
      signedNote: signNote(note, keyNames.map((name) => ed25519Signer(name, logKey))), cosignatures: [],
    };
  }

  /** A real witness trusting the log's key under each of `origins`: what a witness's operator configures on the log's word. */
  const witnessFor = (name: string, origins: string[]) =>
    new Witness(new WitnessStore(join(dir, name)), new Cosigner(`witness.test/${name}`, Buffer.alloc(32, name.charCodeAt(name.length - 1))), origins.map((o) => logVerifierKey(o, logKey.publicKey)), pino({ level: "silent" }), () => 1_800_000_000);
  const cosign = (w: Witness, c: SignedCheckpoint) => {
    const answer = w.addCheckpoint(formatAddCheckpoint(0, [], c.signedNote!));
    expect(answer.status, answer.body).to.equal(200);
    return answer.body.trimEnd();
  };

  it("refuses a checkpoint cosigned under an origin other than the registered log's (a split view the witnesses keep apart)", async function () {
    const w1 = witnessFor("w1", [origin, `${origin}-b`]);
    const w2 = witnessFor("w2", [origin, `${origin}-b`]);
    const witnesses = [w1.cosigner.verifierKey, w2.cosigner.verifierKey];
    // Party A is shown log A under the registered origin; the witnesses cosign it.
    const logA = chain(4, "a");
    const cpA = await checkpoint(logA, origin, [origin]);
    cpA.cosignatures = [cosign(w1, cpA), cosign(w2, cpA)];
    expect((await verifyLog({ entries: logA, checkpoints: [cpA], history: history(), witnesses, quorum: 2 })).ok).to.equal(true);
    // Party B is shown log B, of the same size, as a second "log" the witnesses hold apart from the first.
    const logB = chain(4, "b");
    const cpB = await checkpoint(logB, `${origin}-b`, [origin, `${origin}-b`]);
    cpB.cosignatures = [cosign(w1, cpB), cosign(w2, cpB)];
    const report = await verifyLog({ entries: logB, checkpoints: [cpB], history: history(), witnesses, quorum: 2 });
    expect(report.ok).to.equal(false);
    expect(report.violations.map((v) => v.rule)).to.include("checkpoint-signature");
  });

  it("counts a witness once toward the quorum, however often or under whatever name its key is given", async function () {
    const w1 = witnessFor("w1", [origin]);
    const entries = chain(3, "a");
    const cp = await checkpoint(entries, origin, [origin]);
    const line = cosign(w1, cp);
    // The cosignature/v1 message does not hold the key's name: the operator relabels w1's line as an "alias" witness's.
    const alias = "witness.test/alias";
    const aliasId = keyId(alias, SIG_COSIGNATURE_V1, w1.cosigner.publicKey);
    const aliasVkey = formatVerifierKey(alias, SIG_COSIGNATURE_V1, w1.cosigner.publicKey);
    cp.cosignatures = [line, signatureLine(alias, aliasId, parseNote(`x\n\n${line}\n`).signatures[0].signature)];
    for (const witnesses of [[w1.cosigner.verifierKey, w1.cosigner.verifierKey], [w1.cosigner.verifierKey, aliasVkey]]) {
      // One witness is not a quorum of two: the auditor is told so rather than handed a pass.
      expect(() => witnessVerifiers({ witnesses, quorum: 2 })).to.throw(RangeError);
      let report: VerifyReport | Error;
      try {
        report = await verifyLog({ entries, checkpoints: [cp], history: history(), witnesses, quorum: 2 });
      } catch (error) {
        report = error as Error;
      }
      expect(report).to.be.instanceOf(RangeError);
      expect((await verifyLog({ entries, checkpoints: [cp], history: history(), witnesses, quorum: 1 })).ok).to.equal(true);
    }
  });

  it("refuses a release proved only in a checkpoint the witnesses never cosigned (a split view shown to the service)", async function () {
    const w1 = witnessFor("w1", [origin]);
    const w2 = witnessFor("w2", [origin]);
    const service = "0x" + "5e".repeat(20);
    const subject = "0x" + "5a".repeat(20);
    // The public log, cosigned at size 5: the auditor sees it, and it holds no release.
    const logA = chain(5, "a");
    const cpA = await checkpoint(logA, origin, [origin]);
    cpA.cosignatures = [cosign(w1, cpA), cosign(w2, cpA)];
    // The service is shown a log whose entry 4 is its release, checkpointed and signed by the anchorer alone.
    const logB = chain(4, "a");
    const releaseEntry: AuditEntry = { ...chain(5, "b")[4], kind: "release", requestId: "svc-1", actor: service, subject, grantee: service, category: "c.email", purpose: "p", prevHash: entryLeafHash(logB[3]) };
    logB.push(releaseEntry);
    const cpB = await checkpoint(logB, origin, [origin]);
    const tree = new MerkleTree();
    for (const e of logB) tree.appendData(encodeEntry(e));
    const answer: ReleaseProof = { entry: releaseEntry, checkpoint: cpB, proof: { index: 4, treeSize: 5, leafHash: entryLeafHash(releaseEntry), proof: tree.inclusionProof(4, 5).map((h) => hexlify(h)) } };
    const received = { subject, category: "c.email", purpose: "p", auditIndex: 4, requestId: "svc-1" };
    const trust = { signers: [anchorer.address], witnesses: [w1.cosigner.verifierKey, w2.cosigner.verifierKey], quorum: 2, logNoteKey: hexlify(logKey.publicKey), logOrigin: origin };
    // The witnesses refuse the second log; its checkpoint carries none of their cosignatures, or theirs on the first.
    expect(w1.addCheckpoint(formatAddCheckpoint(5, [], cpB.signedNote!)).status).to.equal(409);
    for (const cosignatures of [[], cpA.cosignatures]) {
      const result = await checkReleaseProof({ ...answer, checkpoint: { ...cpB, cosignatures } }, received, service, trust);
      expect(result.status, result.problems.join("; ")).to.equal("refuted");
    }
    // The auditor, handed the public log, passes it: only the service can tell, and only with the witnesses' quorum.
    expect((await verifyLog({ entries: logA, checkpoints: [cpA], history: history(), witnesses: trust.witnesses, quorum: 2 })).ok).to.equal(true);
    // The public log's own checkpoint proves what it holds at entry 4: not this release.
    const honest = await checkReleaseProof({ ...answer, checkpoint: cpA }, received, service, trust);
    expect(honest.status).to.equal("refuted");
  });
});
