import { expect } from "chai";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { hexlify } from "ethers";
import { checkpointNote } from "../../core/auditEntry";
import { cosignatureVerifier, logVerifierKey } from "../../core/checkpoint";
import { MerkleTree } from "../../core/merkleTree";
import { ed25519FromSeed, ed25519Signer, openNote, signNote, type NoteSigner } from "../../core/signedNote";
import { Witness, formatAddCheckpoint } from "../../server/witness/witness";
import { WitnessStore } from "../../server/witness/witnessStore";
import { createWitness } from "../../server/witness/witnessServer";

const ORIGIN = "data-use-ledger/31337/0xlog";
const NOW = 1_800_000_000;

/** A log: a Merkle tree over numbered leaves, signing its checkpoints with one Ed25519 key. */
function makeLog(seed: number, prefix = "entry") {
  const key = ed25519Signer(ORIGIN, Buffer.alloc(32, seed));
  const tree = new MerkleTree();
  return {
    key,
    tree,
    grow(n: number) {
      for (let i = 0; i < n; i++) tree.appendData(Buffer.from(`${prefix} ${tree.size}`));
    },
    note(size = tree.size, signer: NoteSigner = key) {
      return signNote(checkpointNote(ORIGIN, size, hexlify(tree.rootAt(size))), [signer]);
    },
    request(old: number, size = tree.size, signer: NoteSigner = key) {
      const proof = old > 0 && old < size ? tree.consistencyProof(old, size) : [];
      return formatAddCheckpoint(old, proof, this.note(size, signer));
    },
  };
}

describe("Witness (C2SP tlog-witness)", function () {
  let dir: string;
  let log: ReturnType<typeof makeLog>;
  let witness: Witness;

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), "dul-witness-"));
    log = makeLog(1);
    const { witness: w } = createWitness({
      dataDir: join(dir, "state"),
      keyFile: join(dir, "witness.key"),
      name: "witness.test/w1",
      logKeys: [logVerifierKey(ORIGIN, publicKeyOf(1))],
      logger: pino({ level: "silent" }),
      now: () => NOW,
    });
    witness = w;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("cosigns a first checkpoint and each one that extends it, with a cosignature/v1 that verifies", function () {
    log.grow(5);
    const first = witness.addCheckpoint(log.request(0));
    expect(first.status).to.equal(200);
    log.grow(7);
    const second = witness.addCheckpoint(log.request(5));
    expect(second.status, second.body).to.equal(200);
    const opened = openNote(log.note() + second.body, [cosignatureVerifier(witness.cosigner.verifierKey)]);
    expect(opened.verified.map((s) => s.name)).to.deep.equal(["witness.test/w1"]);
  });

  it("refuses a split view: a checkpoint that does not extend the one it cosigned (422)", function () {
    log.grow(5);
    expect(witness.addCheckpoint(log.request(0)).status).to.equal(200);
    // The same log key signs a second history that shares no prefix with the first.
    const fork = makeLog(1, "forged");
    fork.grow(9);
    log.grow(4);
    const answer = witness.addCheckpoint(formatAddCheckpoint(5, log.tree.consistencyProof(5, 9), fork.note()));
    expect(answer.status).to.equal(422);
    expect(answer.body).to.match(/^inconsistent:/);
    // The honest continuation is still cosigned.
    expect(witness.addCheckpoint(log.request(5)).status).to.equal(200);
  });

  it("keeps both notes of one size with different roots as proof, and refuses the second", function () {
    log.grow(5);
    expect(witness.addCheckpoint(log.request(0)).status).to.equal(200);
    const fork = makeLog(1, "forged");
    fork.grow(5);
    const answer = witness.addCheckpoint(fork.request(5));
    expect(answer.status).to.equal(409);
    expect(answer.body).to.equal("5\n");
    const kept = witness.equivocations();
    expect(kept).to.have.length(1);
    expect(kept[0]).to.include({ origin: ORIGIN, treeSize: 5 });
    expect(kept[0].notes).to.deep.equal([log.note(), fork.note()]);
    expect(readdirSync(join(dir, "state", "equivocations"))).to.have.length(1);
    // The proof outlives the process: a witness reopened over the same directory still holds it.
    const reopened = new WitnessStore(join(dir, "state"));
    expect(reopened.equivocations()[0].notes).to.deep.equal([log.note(), fork.note()]);
    expect(reopened.latestFor(ORIGIN)?.rootHash).to.equal(hexlify(log.tree.rootAt(5)));
  });

  it("refuses a checkpoint not signed by the log's key (403) and an unknown log (404)", function () {
    log.grow(3);
    const impostor = ed25519Signer(ORIGIN, Buffer.alloc(32, 66));
    expect(witness.addCheckpoint(log.request(0, 3, impostor)).status).to.equal(403);
    const other = ed25519Signer("another/log", Buffer.alloc(32, 1));
    const otherNote = signNote(checkpointNote("another/log", 3, hexlify(log.tree.rootAt(3))), [other]);
    expect(witness.addCheckpoint(formatAddCheckpoint(0, [], otherNote)).status).to.equal(404);
    expect(witness.equivocations()).to.deep.equal([]);
  });

  it("refuses a rolled-back size: 409 with the size it holds, 400 for an old size above the checkpoint", function () {
    log.grow(10);
    expect(witness.addCheckpoint(log.request(0)).status).to.equal(200);
    const rolledBack = witness.addCheckpoint(log.request(0, 6));
    expect(rolledBack).to.deep.equal({ status: 409, contentType: "text/x.tlog.size", body: "10\n" });
    expect(witness.addCheckpoint(log.request(10, 6)).status).to.equal(400);
    expect(new WitnessStore(join(dir, "state")).latestFor(ORIGIN)?.treeSize).to.equal(10);
  });

  it("refuses malformed bodies with 400", function () {
    log.grow(2);
    for (const body of ["", "old 01\n\n" + log.note(), "old 0\nnot-base64\n\n" + log.note(), "old 0\n\nnot a note\n", "new 0\n\n" + log.note()]) {
      expect(witness.addCheckpoint(body).status, JSON.stringify(body)).to.equal(400);
    }
  });

  it("speaks the protocol over HTTP and keeps its key across restarts", async function () {
    const make = () =>
      createWitness({ dataDir: join(dir, "state"), keyFile: join(dir, "witness.key"), name: "ignored/once-made", logKeys: [logVerifierKey(ORIGIN, publicKeyOf(1))], logger: pino({ level: "silent" }) });
    const { witness: w, server } = make();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      log.grow(4);
      const ok = await fetch(`${url}/add-checkpoint`, { method: "POST", body: log.request(0) });
      expect(ok.status).to.equal(200);
      const conflict = await fetch(`${url}/add-checkpoint`, { method: "POST", body: log.request(0) });
      expect(conflict.status).to.equal(409);
      expect(conflict.headers.get("content-type")).to.equal("text/x.tlog.size");
      expect(await conflict.text()).to.equal("4\n");
      expect((await fetch(`${url}/nothing`)).status).to.equal(404);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    expect(make().witness.cosigner.verifierKey).to.equal(w.cosigner.verifierKey);
  });
});

const publicKeyOf = (seed: number) => ed25519FromSeed(Buffer.alloc(32, seed)).publicKey;
