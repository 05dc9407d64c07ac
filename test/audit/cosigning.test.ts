import { expect } from "chai";
import hre from "hardhat";
import Database from "better-sqlite3";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { cosignatureVerifier, parseCheckpointText } from "../../core/checkpoint";
import { hexlify } from "ethers";
import { ed25519Signer, openNote, signNote, verifierFromKey } from "../../core/signedNote";
import { readChainHistory } from "../../auditor/history";
import { verifyLog } from "../../auditor/verify";
import { checkpointNoteKey } from "../../server/audit/noteKey";
import type { SignedCheckpoint } from "../../server/store/types";
import { logEntry } from "../../server/audit/accessLog";
import { SqliteStore } from "../../server/store/sqlite";
import { deployLedger } from "../../scripts/lib/deploy";
import type { Deployment } from "../../core/deployment";
import { TEST_MASTER_KEY, call, removeDir, startTestGateway, type TestGateway } from "../helpers/gateway";
import { closeServer, logKeyOf, startWitness } from "../helpers/witness";

const run = promisify(execFile);

describe("witnesses cosign the gateway's checkpoints (C2SP tlog-witness)", function () {
  const quiet = { CHECKPOINT_INTERVAL_MS: "100000", ANCHOR_INTERVAL_MS: "100000" };
  let dir: string;
  let deployment: Deployment;
  let logKey: string;

  before(async function () {
    // The log's note key registered on chain, as the test gateway signs with it.
    deployment = await deployLedger(hre, { noteKey: hexlify(checkpointNoteKey(TEST_MASTER_KEY).publicKey) });
    logKey = await logKeyOf(deployment);
  });
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "dul-cosign-"))));
  afterEach(() => removeDir(dir));

  const grow = (gw: TestGateway, n: number) => gw.gateway.store.appendLog(Array.from({ length: n }, (_, i) => logEntry({ kind: "write", requestId: `r${i}` })));

  it("sends each checkpoint to two real witnesses and publishes the note with both cosignatures", async function () {
    const w1 = await startWitness(dir, "w1", logKey);
    const w2 = await startWitness(dir, "w2", logKey);
    const gw = await startTestGateway({ deployment, env: { ...quiet, WITNESS_URLS: `${w1.url},${w2.url}` } });
    try {
      for (const n of [3, 4]) {
        grow(gw, n);
        await gw.gateway.audit.checkpoint();
        await gw.gateway.audit.cosigned();
      }
      const { status, body } = await call(gw.url, "/v1/audit/checkpoint", null);
      expect(status).to.equal(200);
      expect(parseCheckpointText(body.note)).to.include({ treeSize: 7, rootHash: body.rootHash });
      expect(body.cosignatures).to.have.length(2);
      const opened = openNote(body.cosignedNote, [verifierFromKey(logKey), cosignatureVerifier(w1.witness.cosigner.verifierKey), cosignatureVerifier(w2.witness.cosigner.verifierKey)]);
      expect(opened.verified.map((s) => s.name).sort()).to.deep.equal([parseCheckpointText(body.note).origin, "witness.test/w1", "witness.test/w2"].sort());
      // The earlier checkpoint kept its own cosignatures.
      const list = await call(gw.url, "/v1/audit/checkpoints", null);
      expect(list.body.checkpoints.map((c: { cosignatures: string[] }) => c.cosignatures.length)).to.deep.equal([2, 2]);
    } finally {
      await gw.close();
      removeDir(gw.dataDir);
      await w1.close();
      await w2.close();
    }
  });

  it("audit verify --quorum 2 refuses a checkpoint with one cosignature, or a forged one, and passes it with two", async function () {
    const w1 = await startWitness(dir, "w1", logKey);
    const w2 = await startWitness(dir, "w2", logKey);
    const gw = await startTestGateway({ deployment, env: { ...quiet, WITNESS_URLS: `${w1.url},${w2.url}` } });
    try {
      grow(gw, 4);
      await gw.gateway.audit.checkpoint();
      await gw.gateway.audit.cosigned();
      const store = gw.gateway.store;
      const entries = store.readLog(0, store.logSize());
      const checkpoints = store.listCheckpoints(0, 1000);
      const history = await readChainHistory(hre.ethers.provider, deployment);
      const witnesses = [w1.witness.cosigner.verifierKey, w2.witness.cosigner.verifierKey];
      expect(history.log?.noteKey).to.equal(hexlify(checkpointNoteKey(TEST_MASTER_KEY).publicKey));
      // The log's key comes from the chain: nothing about it is passed in.
      const verify = (cps: SignedCheckpoint[], quorum: number) => verifyLog({ entries, checkpoints: cps, history, graceSeconds: 0, witnesses, quorum });
      const rules = async (cps: SignedCheckpoint[], quorum: number) => (await verify(cps, quorum)).violations.map((v) => v.rule);

      expect(await rules(checkpoints, 2)).to.deep.equal([]);
      const oneCosignature = checkpoints.map((c) => ({ ...c, cosignatures: c.cosignatures!.slice(0, 1) }));
      expect(await rules(oneCosignature, 2)).to.deep.equal(["checkpoint-unwitnessed"]);
      expect(await rules(oneCosignature, 1)).to.deep.equal([]);
      // A second line made up by the gateway for a witness that never cosigned.
      const [line] = checkpoints[0].cosignatures!.filter((l) => l.includes("witness.test/w2"));
      const bytes = Buffer.from(line.split(" ")[2], "base64");
      bytes[bytes.length - 1] ^= 1;
      const forged = [{ ...oneCosignature[0], cosignatures: [...oneCosignature[0].cosignatures!.filter((l) => !l.includes("w2")), `— witness.test/w2 ${bytes.toString("base64")}`] }];
      expect(await rules(forged, 2)).to.have.members(["checkpoint-cosignature", "checkpoint-unwitnessed"]);
      // A note signed by a key other than the log's registered one.
      const impostor = signNote(checkpoints[0].note, [ed25519Signer(checkpoints[0].origin, Buffer.alloc(32, 99))]);
      expect(await rules([{ ...checkpoints[0], signedNote: impostor }], 0)).to.deep.equal(["checkpoint-note-signature"]);
      expect(await rules([{ ...checkpoints[0], signedNote: null, cosignatures: [] }], 2)).to.deep.equal(["checkpoint-unwitnessed"]);

      // The same through the command: exit 1 naming the rule with one cosignature, 0 with both, 2 for a quorum above the witnesses given.
      const rpc = await hre.run(TASK_NODE_CREATE_SERVER, { hostname: "127.0.0.1", port: 0, provider: hre.network.provider });
      const { port } = await rpc.listen();
      try {
        const deploymentFile = join(dir, "31337.json");
        writeFileSync(deploymentFile, JSON.stringify(deployment));
        const dul = async (cps: SignedCheckpoint[], quorum: number) => {
          const file = join(dir, `log-${quorum}-${cps[0].cosignatures!.length}.json`);
          writeFileSync(file, JSON.stringify({ entries, checkpoints: cps }));
          const args = ["bin/dul.js", "audit", "verify", "--rpc", `http://127.0.0.1:${port}`, "--deployment", deploymentFile, "--log", file, "--grace", "0"];
          return run(process.execPath, [...args, ...witnesses.flatMap((w) => ["--witness", w]), "--quorum", String(quorum)]).then(
            (r) => ({ code: 0, stdout: r.stdout }),
            (e) => ({ code: e.code as number, stdout: e.stdout as string }),
          );
        };
        const one = await dul(oneCosignature, 2);
        expect(one.code).to.equal(1);
        expect(one.stdout).to.contain("checkpoint-unwitnessed");
        expect((await dul(checkpoints, 2)).code).to.equal(0);
        expect((await dul(checkpoints, 3)).code).to.equal(2);
      } finally {
        await rpc.close();
      }
    } finally {
      await gw.close();
      removeDir(gw.dataDir);
      await w1.close();
      await w2.close();
    }
  });

  it("after a restart, learns a witness's size from its 409 and sends the proof from there", async function () {
    const w1 = await startWitness(dir, "w1", logKey);
    const env = { ...quiet, WITNESS_URLS: w1.url };
    const first = await startTestGateway({ deployment, env });
    grow(first, 5);
    await first.gateway.audit.checkpoint();
    await first.gateway.audit.cosigned();
    await first.close();
    const second = await startTestGateway({ deployment, dataDir: first.dataDir, env });
    try {
      grow(second, 6);
      await second.gateway.audit.checkpoint();
      await second.gateway.audit.cosigned();
      expect(second.gateway.audit.latestCheckpoint()).to.include({ treeSize: 11 });
      expect(second.gateway.audit.latestCheckpoint()!.cosignatures).to.have.length(1);
    } finally {
      await second.close();
      removeDir(first.dataDir);
      await w1.close();
    }
  });

  it("signs on when a witness is down or hangs: the checkpoint goes out without its cosignature", async function () {
    const hanging = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((resolve) => hanging.listen(0, "127.0.0.1", resolve));
    const down = createServer();
    await new Promise<void>((resolve) => down.listen(0, "127.0.0.1", resolve));
    const downUrl = `http://127.0.0.1:${(down.address() as AddressInfo).port}`;
    await closeServer(down);
    const gw = await startTestGateway({
      deployment,
      env: { ...quiet, WITNESS_URLS: `${downUrl},http://127.0.0.1:${(hanging.address() as AddressInfo).port}`, WITNESS_TIMEOUT_MS: "200" },
    });
    try {
      grow(gw, 2);
      const checkpoint = await gw.gateway.audit.checkpoint();
      expect(checkpoint).to.include({ treeSize: 2 });
      expect(checkpoint!.signedNote).to.be.a("string");
      await gw.gateway.audit.cosigned();
      expect(gw.gateway.audit.latestCheckpoint()!.cosignatures).to.deep.equal([]);
    } finally {
      await gw.close();
      removeDir(gw.dataDir);
      hanging.closeAllConnections();
      await closeServer(hanging);
    }
  });

  it("opens a database made before checkpoints were signed notes, and keeps its checkpoints", function () {
    const file = join(dir, "old.sqlite");
    const old = new Database(file);
    old.exec(`CREATE TABLE checkpoints (
      tree_size INTEGER PRIMARY KEY, root_hash TEXT NOT NULL, origin TEXT NOT NULL, note TEXT NOT NULL,
      signature TEXT NOT NULL, signer TEXT NOT NULL, signed_at INTEGER NOT NULL)`);
    old.prepare("INSERT INTO checkpoints VALUES (1, '0x00', 'o', 'n', 's', '0xa', 5)").run();
    old.close();
    const store = new SqliteStore(file);
    try {
      expect(store.latestCheckpoint()).to.deep.equal({ treeSize: 1, rootHash: "0x00", origin: "o", note: "n", signature: "s", signer: "0xa", signedAt: 5, signedNote: null, cosignatures: [] });
      store.addCosignatures(1, ["— w x"]);
      expect(store.listCheckpoints(0, 10)[0].cosignatures).to.deep.equal(["— w x"]);
    } finally {
      store.close();
    }
  });
});
