import hre from "hardhat";
import { expect } from "chai";
import { execFile } from "node:child_process";
import fs, { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { HDNodeWallet, hexlify, Wallet } from "ethers";
import { mine, time } from "@nomicfoundation/hardhat-network-helpers";
import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { DataUseRegistry__factory, type DataUseRegistry } from "../../typechain-types";
import { grantIdOf, labelToId } from "../../core/ids";
import { canonicalJson, checkpointNote, encodeEntry, entryLeafHash, type AuditEntry } from "../../core/auditEntry";
import { verifyInclusion, verifyConsistency } from "../../core/merkle";
import { MerkleTree, nodeHasher } from "../../core/merkleTree";
import { SqliteStore } from "../../server/store/sqlite";
import { logEntry } from "../../server/audit/accessLog";
import { readChainHistory, type ChainHistory } from "../../auditor/history";
import { verifyLog, type Rule } from "../../auditor/verify";
import { call, login, removeDir, startTestGateway, synced, type TestGateway, chainNow } from "../helpers/gateway";

const run = promisify(execFile);

/** The private key of Hardhat's account `i` (the public test mnemonic): the CLI signs in with it. */
function hardhatKey(i: number): string {
  const { mnemonic } = hre.network.config.accounts as { mnemonic: string };
  return HDNodeWallet.fromPhrase(mnemonic, undefined, `m/44'/60'/0'/0/${i}`).privateKey;
}

describe("audit ledger (step 4): a verifiable access log anchored on-chain", function () {
  let gw: TestGateway;
  let registry: DataUseRegistry;
  let subject: HardhatEthersSigner;
  let service: HardhatEthersSigner;
  let operator: HardhatEthersSigner;
  let auditor: HardhatEthersSigner;
  let tokens: Record<string, string>;
  const purpose = "dpv:ServiceProvision";
  /** Indexes of notable entries of the scripted day, for the tamper cases. */
  const marks: Record<string, number> = {};
  let history: ChainHistory;

  const path = (category: string) => `/v1/subjects/${subject.address.toLowerCase()}/data/${category}`;
  const release = async (category: string) => {
    const res = await call(gw.url, `${path(category)}?purpose=${purpose}`, tokens.service);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body.auditIndex as number;
  };
  const grant = async (category: string, seconds: number) => {
    // A block mined now carries the chain's clock as it runs after a time jump, which an idle
    // stretch under load leaves far ahead of the latest block's time.
    await mine();
    await (await registry.grant(service.address, labelToId(category), labelToId(purpose), (await chainNow()) + seconds)).wait();
    await synced(gw.gateway);
  };
  const settle = async () => {
    await synced(gw.gateway);
    gw.gateway.deletion.runDue();
  };
  const entriesOf = (store: { readLog: SqliteStore["readLog"]; logSize(): number }) => store.readLog(0, store.logSize());

  before(async function () {
    [, subject, service, , operator, , , , auditor] = await hre.ethers.getSigners();
    gw = await startTestGateway({
      operators: [operator.address],
      auditors: [auditor.address],
      env: { CHECKPOINT_INTERVAL_MS: "100000", ANCHOR_INTERVAL_MS: "100000" },
    });
    registry = DataUseRegistry__factory.connect(gw.deployment.contracts.DataUseRegistry.address, subject);
    tokens = {
      service: await login(gw.url, service, gw.gateway.domain),
      operator: await login(gw.url, operator, gw.gateway.domain),
      subject: await login(gw.url, subject, gw.gateway.domain),
      auditor: await login(gw.url, auditor, gw.gateway.domain),
    };

    // A scripted day: data stored, grants given, releases, a revocation, a data expiry, an expiry.
    for (const category of ["audit.email", "audit.phone", "audit.history"]) {
      expect((await call(gw.url, path(category), tokens.operator, { method: "PUT", body: { value: `${category}-value` } })).status).to.equal(201);
    }
    await grant("audit.email", 3600);
    await grant("audit.phone", 3600);
    await grant("audit.history", 120);
    await gw.gateway.audit.anchor();
    marks.releaseAnchoredAlone = await release("audit.email");
    await gw.gateway.audit.anchor();
    marks.release2 = await release("audit.phone");
    marks.release3 = await release("audit.history");
    await (await registry.revoke(grantIdOf(subject.address, service.address, labelToId("audit.phone"), labelToId(purpose)))).wait();
    await settle();
    const dataExpiresAt = (await chainNow()) + 60;
    await (await registry.setDataExpiry(labelToId("audit.email"), dataExpiresAt)).wait();
    await settle();
    marks.release4 = await release("audit.email");
    await time.increaseTo(dataExpiresAt + 200);
    await settle();
    await gw.gateway.audit.checkpoint();
    await gw.gateway.audit.anchor();
    history = await readChainHistory(hre.ethers.provider, gw.deployment);
  });

  after(async function () {
    await gw.close();
    removeDir(gw.dataDir);
  });

  /** A copy of the gateway's database to tamper with, and the log read back from it. */
  function tampered(sql: (db: Database.Database, file: string) => void): { entries: AuditEntry[]; checkpoints: ReturnType<SqliteStore["listCheckpoints"]> } {
    gw.gateway.store.db.pragma("wal_checkpoint(TRUNCATE)");
    const dir = mkdtempSync(join(tmpdir(), "dul-tamper-"));
    const file = join(dir, "copy.sqlite");
    copyFileSync(join(gw.dataDir, "gateway.sqlite"), file);
    const db = new Database(file);
    sql(db, file);
    db.close();
    const store = new SqliteStore(file);
    try {
      return { entries: entriesOf(store), checkpoints: store.listCheckpoints(0, 1e9) };
    } finally {
      store.close();
      removeDir(dir);
    }
  }

  /**
   * The history with a staleness window, as AuditAnchor's registration of the log gives it: the
   * gateway's own MAX_HEAD_AGE_SECONDS, when the deployment does not register one yet.
   */
  const withWindow = (h: ChainHistory): ChainHistory => ({ ...h, log: h.log ?? { logId: "0x", origin: "test", noteKey: "0x", maxHeadAgeSeconds: 30, blockNumber: 0 } });
  const verifyTampered = async (sql: (db: Database.Database) => void) => {
    const log = tampered(sql);
    return verifyLog({ ...log, history: withWindow(history), graceSeconds: 0 });
  };
  /** A release's head fields as the gateway logs them, for the chain's latest block. */
  const latestHead = async () => {
    const block = (await hre.ethers.provider.getBlock("latest"))!;
    return { decidedAt: block.timestamp, headBlock: block.number, headHash: block.hash!.toLowerCase(), headTime: block.timestamp };
  };
  const rulesAt = (report: Awaited<ReturnType<typeof verifyLog>>) => report.violations.map((v) => `${v.rule}@${v.index}`);

  /** Appends a correctly chained entry straight into the database, as someone with write access would. */
  function appendForged(db: Database.Database, fields: Partial<AuditEntry>): number {
    const last = db.prepare("SELECT idx, leaf_hash FROM access_log ORDER BY idx DESC LIMIT 1").get() as { idx: number; leaf_hash: Buffer };
    const entry: AuditEntry = {
      index: last.idx + 1, at: Date.now(), kind: "release", requestId: "forged", actor: service.address.toLowerCase(), subject: subject.address.toLowerCase(),
      grantee: service.address.toLowerCase(), category: null, purpose, grantBlock: 1, grantTx: null, payloadHash: null, detail: null, prevHash: hexlify(last.leaf_hash), ...fields,
    };
    db.prepare(
      `INSERT INTO access_log (idx, at, kind, request_id, actor, subject, grantee, category, purpose, grant_block, grant_tx, payload_hash, detail, prev_hash, leaf_hash)
       VALUES (@index, @at, @kind, @requestId, @actor, @subject, @grantee, @category, @purpose, @grantBlock, @grantTx, @payloadHash, @detail, @prevHash, @leaf)`,
    ).run({ ...entry, detail: entry.detail ? JSON.stringify(entry.detail) : null, leaf: nodeHasher.leaf(encodeEntry(entry)) });
    return entry.index;
  }

  it("logs releases, writes, deletions and orders in order, each chained to the one before, without personal data", async function () {
    const entries = entriesOf(gw.gateway.store);
    expect(entries.map((e) => e.index)).to.deep.equal(entries.map((_, i) => i));
    const kinds = new Set(entries.map((e) => e.kind));
    for (const kind of ["write", "release", "deletion", "deletion-order"]) expect(kinds, kind).to.include(kind);
    const first = entries[marks.releaseAnchoredAlone];
    expect(first).to.include({ kind: "release", category: "audit.email", purpose, grantee: service.address.toLowerCase() });
    expect(first.payloadHash).to.match(/^0x[0-9a-f]{64}$/);
    expect(JSON.stringify(entries)).not.to.contain("audit.email-value");
    for (let i = 1; i < entries.length; i++) expect(entries[i].prevHash).to.equal(entryLeafHash(entries[i - 1]));
  });

  it("serves a signed checkpoint, entries scoped to the caller, and proofs that verify against it", async function () {
    const cp = (await call(gw.url, "/v1/audit/checkpoint", null)).body;
    expect(cp.treeSize).to.equal(gw.gateway.store.logSize());
    expect(cp.note).to.equal(checkpointNote(cp.origin, cp.treeSize, cp.rootHash));
    expect(hre.ethers.verifyMessage(cp.note, cp.signature)).to.equal(gw.deployment.deployer);
    expect(cp.anchor).to.include({ treeSize: cp.treeSize, rootHash: cp.rootHash });

    const all = (await call(gw.url, "/v1/audit/entries?from=0", tokens.auditor)).body;
    expect(all.entries).to.have.length(cp.treeSize);
    const mine = (await call(gw.url, "/v1/audit/entries?from=0", tokens.service)).body;
    expect(mine.entries.length).to.be.greaterThan(0).and.lessThan(all.entries.length);
    expect(mine.entries.every((e: AuditEntry) => e.grantee === service.address.toLowerCase() || e.actor === service.address.toLowerCase())).to.equal(true);

    const entry = all.entries[marks.release3] as AuditEntry;
    const proof = (await call(gw.url, `/v1/audit/proof/inclusion?index=${marks.release3}&treeSize=${cp.treeSize}`, null)).body;
    expect(proof.leafHash).to.equal(entryLeafHash(entry));
    expect(verifyInclusion(entryLeafHash(entry), marks.release3, cp.treeSize, proof.proof, cp.rootHash)).to.equal(true);
    expect(verifyInclusion(entryLeafHash({ ...entry, grantee: operator.address.toLowerCase() }), marks.release3, cp.treeSize, proof.proof, cp.rootHash)).to.equal(false);

    const anchors = history.anchors;
    expect(anchors.length).to.be.greaterThanOrEqual(3);
    const consistency = (await call(gw.url, `/v1/audit/proof/consistency?from=${anchors[0].treeSize}&to=${cp.treeSize}`, null)).body;
    expect(verifyConsistency(anchors[0].treeSize, cp.treeSize, consistency.proof, anchors[0].rootHash, cp.rootHash)).to.equal(true);
    const bad = await call(gw.url, `/v1/audit/proof/inclusion?index=${cp.treeSize}&treeSize=${cp.treeSize}`, null);
    expect(bad.status).to.equal(400);
    expect(bad.body.error.code).to.equal("INVALID_INPUT");
  });

  it("verifies the honest log of the day clean, in process and with the `dul audit` command", async function () {
    const report = await verifyLog({ entries: entriesOf(gw.gateway.store), checkpoints: gw.gateway.store.listCheckpoints(0, 1e9), history: withWindow(history), graceSeconds: 0 });
    expect(report.violations).to.deep.equal([]);
    // Earlier tests may have moved the chain's clock ahead of the wall clock (release-clock-behind): no other finding.
    expect(report.findings.filter((f) => f.rule !== "release-clock-behind")).to.deep.equal([]);
    for (const i of [marks.releaseAnchoredAlone, marks.release4]) {
      const { headBlock, headHash, headTime } = entriesOf(gw.gateway.store)[i].detail as { headBlock: number; headHash: string; headTime: number };
      const block = (await hre.ethers.provider.getBlock(headBlock))!;
      expect({ headHash, headTime }).to.deep.equal({ headHash: block.hash!.toLowerCase(), headTime: block.timestamp });
    }
    expect(report.releases).to.equal(4);
    expect(report.grantEnds).to.equal(3);
    expect(report.dataExpiries).to.equal(1);

    const rpc = await hre.run(TASK_NODE_CREATE_SERVER, { hostname: "127.0.0.1", port: 0, provider: hre.network.provider });
    const { port } = await rpc.listen();
    const dir = mkdtempSync(join(tmpdir(), "dul-cli-"));
    try {
      const deploymentFile = join(dir, "31337.json");
      writeFileSync(deploymentFile, JSON.stringify(gw.deployment));
      const args = ["bin/dul.js", "audit", "verify", "--rpc", `http://127.0.0.1:${port}`, "--deployment", deploymentFile, "--gateway", gw.url, "--grace", "0", "--save-log", join(dir, "log.json")];
      const verified = await run(process.execPath, args, { env: { ...process.env, DUL_AUDITOR_KEY: hardhatKey(8) } }).catch((e) => e);
      if (history.log) expect(verified.stdout).to.contain("OK: every release was covered");
      else {
        // No log registered on AuditAnchor: no staleness window, and the command fails closed on every release.
        expect(verified.code).to.equal(1);
        expect(verified.stdout.match(/^\d+\s+release-no-window/gm)).to.have.length(report.releases);
        expect(verified.stdout).not.to.match(/release-(?!no-window)[a-z-]+/);
      }

      const historyOut = await run(process.execPath, ["bin/dul.js", "audit", "history", "--rpc", `http://127.0.0.1:${port}`, "--deployment", deploymentFile, "--subject", subject.address, "--format", "csv"]);
      const lines = historyOut.stdout.trim().split("\n");
      expect(lines[0]).to.equal("time,block,tx,event,subject,grantee,grantId,category,purpose,expiresAt,previousExpiresAt");
      expect(lines.filter((l) => l.includes(",revoked,")).length).to.equal(1);
      expect(lines.filter((l) => l.includes(",dataExpiry,")).length).to.equal(1);

      const exported = await run(process.execPath, ["bin/dul.js", "audit", "export", "--rpc", `http://127.0.0.1:${port}`, "--deployment", deploymentFile, "--subject", subject.address]);
      const receipts = JSON.parse(exported.stdout) as { version: string; piiPrincipalId: string; status: string }[];
      expect(receipts.map((r) => r.status).sort()).to.deep.equal(["data-expired", "expired", "revoked"]);
      expect(receipts.every((r) => r.version === "KI-CR-v1.1.0" && r.piiPrincipalId === subject.address.toLowerCase())).to.equal(true);

      // The saved log, with a forged release appended, fails from the file alone with exit code 1.
      const saved = JSON.parse(readFileSync(join(dir, "log.json"), "utf8")) as { entries: AuditEntry[] };
      const lastEntry = saved.entries[saved.entries.length - 1];
      const forged: AuditEntry = { ...saved.entries[marks.release2], index: lastEntry.index + 1, prevHash: entryLeafHash(lastEntry), at: Date.now(), detail: { ...saved.entries[marks.release2].detail, ...(await latestHead()) } };
      saved.entries.push(forged);
      writeFileSync(join(dir, "log.json"), JSON.stringify(saved));
      const failed = await run(process.execPath, ["bin/dul.js", "audit", "verify", "--rpc", `http://127.0.0.1:${port}`, "--deployment", deploymentFile, "--log", join(dir, "log.json"), "--grace", "0"]).catch((e) => e);
      expect(failed.code).to.equal(1);
      expect(failed.stdout).to.match(new RegExp(`${forged.index}\\s+release-revoked`));
    } finally {
      await rpc.close();
      removeDir(dir);
    }
  });

  const expectNamed = (report: Awaited<ReturnType<typeof verifyLog>>, rule: Rule, index: number | null) => {
    expect(report.ok).to.equal(false);
    expect(rulesAt(report)).to.include(`${rule}@${index}`);
  };

  it("names an entry edited in the database", async function () {
    const k = marks.release2;
    const report = await verifyTampered((db) => db.prepare("UPDATE access_log SET purpose = 'dpv:Marketing' WHERE idx = ?").run(k));
    expectNamed(report, "entry-altered", k);
  });

  it("names an entry removed from the database", async function () {
    const k = marks.release2;
    const report = await verifyTampered((db) => db.prepare("DELETE FROM access_log WHERE idx = ?").run(k));
    expectNamed(report, "entry-missing", k);
  });

  it("names entries reordered in the database", async function () {
    const k = marks.release2;
    const report = await verifyTampered((db) => {
      db.prepare("UPDATE access_log SET idx = -1 WHERE idx = ?").run(k);
      db.prepare("UPDATE access_log SET idx = ? WHERE idx = ?").run(k, k + 1);
      db.prepare("UPDATE access_log SET idx = ? WHERE idx = -1").run(k + 1);
    });
    expectNamed(report, "entry-altered", k);
  });

  it("names an entry inserted into the database, even one chained correctly to its predecessor", async function () {
    const k = marks.release2;
    const report = await verifyTampered((db) => {
      const rows = db.prepare("SELECT idx FROM access_log WHERE idx >= ? ORDER BY idx DESC").all(k) as { idx: number }[];
      for (const { idx } of rows) db.prepare("UPDATE access_log SET idx = ? WHERE idx = ?").run(idx + 1, idx);
      const before = db.prepare("SELECT leaf_hash FROM access_log WHERE idx = ?").get(k - 1) as { leaf_hash: Buffer };
      const entry: AuditEntry = { index: k, at: Date.now(), kind: "write", requestId: "inserted", actor: null, subject: null, grantee: null, category: null, purpose: null, grantBlock: null, grantTx: null, payloadHash: null, detail: null, prevHash: hexlify(before.leaf_hash) };
      db.prepare("INSERT INTO access_log (idx, at, kind, request_id, prev_hash, leaf_hash) VALUES (?, ?, 'write', 'inserted', ?, ?)").run(k, entry.at, entry.prevHash, nodeHasher.leaf(encodeEntry(entry)));
    });
    expectNamed(report, "entry-altered", k);
  });

  it("names the entry when the whole log after it was rewritten and re-signed with the gateway's key: the anchor on-chain disagrees", async function () {
    const k = marks.releaseAnchoredAlone;
    const signer = new Wallet(hardhatKey(0));
    const origin = gw.gateway.store.latestCheckpoint()!.origin;
    const rewritten = tampered((_db, file) => {
      // Edit entry k, then append it and everything after it again through the store, which re-chains
      // them exactly as the gateway would, and drop the checkpoints signed over the old log.
      const store = new SqliteStore(file);
      const tail = store.readLog(k, store.logSize());
      store.db.prepare("DELETE FROM access_log WHERE idx >= ?").run(k);
      store.appendLog(tail.map(({ index: _index, prevHash: _prev, ...entry }, i) => (i === 0 ? { ...entry, purpose: "dpv:Marketing" } : entry)));
      store.db.prepare("DELETE FROM checkpoints").run();
      store.close();
    });
    const tree = new MerkleTree();
    for (const e of rewritten.entries) tree.appendData(encodeEntry(e));
    const root = hexlify(tree.rootAt());
    const note = checkpointNote(origin, tree.size, root);
    const resigned = [{ treeSize: tree.size, rootHash: root, origin, note, signature: await signer.signMessage(note), signer: signer.address.toLowerCase(), signedAt: Date.now() }];

    const report = await verifyLog({ entries: rewritten.entries, checkpoints: resigned, history: withWindow(history), graceSeconds: 0 });
    expect(report.violations.filter((v) => v.rule === "entry-altered")).to.deep.equal([]);
    expectNamed(report, "anchor-mismatch", k);
    expect(report.violations.find((v) => v.rule === "anchor-mismatch" && v.index === k)!.evidence).to.contain(`[${k}, ${k + 1})`);
  });

  it("names a release written into the database for a revoked grant, and one for an expired grant", async function () {
    const head = await latestHead();
    let revokedAt = 0;
    let expiredAt = 0;
    const report = await verifyTampered((db) => {
      revokedAt = appendForged(db, { category: "audit.phone", detail: head });
      expiredAt = appendForged(db, { category: "audit.history", detail: head });
    });
    expectNamed(report, "release-revoked", revokedAt);
    expectNamed(report, "release-expired", expiredAt);
  });

  it("reports a grant end for which the gateway never ordered deletion", async function () {
    const category = "audit.orphan";
    await grant(category, 30);
    const grantId = grantIdOf(subject.address, service.address, labelToId(category), labelToId(purpose)).toLowerCase();
    gw.gateway.store.db.prepare("UPDATE grants SET end_handled = 1 WHERE grant_id = ?").run(grantId);
    await time.increase(60);
    await settle();
    const report = await verifyLog({ entries: entriesOf(gw.gateway.store), checkpoints: [], history: withWindow(await readChainHistory(hre.ethers.provider, gw.deployment)), graceSeconds: 0 });
    expect(report.violations.map((v) => v.rule)).to.deep.equal(["deletion-order-missing"]);
    expect(report.violations[0].evidence).to.contain(grantId);
  });

  it("stops signing when the stored log contradicts a checkpoint it signed", async function () {
    const first = await startTestGateway({ env: { CHECKPOINT_INTERVAL_MS: "100000", ANCHOR_INTERVAL_MS: "100000" }, operators: [operator.address] });
    const token = await login(first.url, operator, first.gateway.domain);
    await call(first.url, `/v1/subjects/${subject.address.toLowerCase()}/data/x.y`, token, { method: "PUT", body: { value: 1 } });
    await call(first.url, `/v1/subjects/${subject.address.toLowerCase()}/data/x.z`, token, { method: "PUT", body: { value: 2 } });
    expect((await first.gateway.audit.checkpoint())!.treeSize).to.equal(2);
    await first.close();
    const db = new Database(join(first.dataDir, "gateway.sqlite"));
    db.prepare("UPDATE access_log SET category = 'x.w' WHERE idx = 1").run();
    db.close();
    const second = await startTestGateway({ deployment: first.deployment, dataDir: first.dataDir, env: { CHECKPOINT_INTERVAL_MS: "100000", ANCHOR_INTERVAL_MS: "100000" } });
    try {
      expect(second.gateway.audit.integrityError?.message).to.contain("signed checkpoint of size 2");
      await expect(second.gateway.audit.checkpoint()).to.be.rejectedWith(/signed checkpoint/);
    } finally {
      await second.close();
      removeDir(first.dataDir);
    }
  });
});

describe("log entry encoding", function () {
  const entry: AuditEntry = {
    index: 7, at: 1_700_000_000_123, kind: "release", requestId: "r-1", actor: "0xaa", subject: "0xbb", grantee: "0xaa", category: "contact.email",
    purpose: "dpv:Marketing", grantBlock: 12, grantTx: "0xcc", payloadHash: "0xdd", detail: { z: [1, { b: null, a: "é✓" }], a: true }, prevHash: "0xee",
  };

  it("is the canonical JSON of the entry's own fields, as UTF-8: keys sorted at every depth", function () {
    expect(new TextDecoder().decode(encodeEntry(entry))).to.equal(
      '{"actor":"0xaa","at":1700000000123,"category":"contact.email","detail":{"a":true,"z":[1,{"a":"é✓","b":null}]},"grantBlock":12,"grantTx":"0xcc",' +
        '"grantee":"0xaa","index":7,"kind":"release","payloadHash":"0xdd","prevHash":"0xee","purpose":"dpv:Marketing","requestId":"r-1","subject":"0xbb"}',
    );
  });

  it("equals canonicalJson over the entry for any values, ignoring fields an entry does not have", function () {
    // Integer-like keys: a plain JSON.stringify would write them first, in numeric order.
    const values = [null, 0, -1.5, 2 ** 53 - 1, "", "a\"b\\c\n", "日本", "\u0000\ud800", true, [], {}, { y: { x: [null, "q"] } }, { b: 1, 10: [2], 9: { "01": 3, 1: 4 } }, [{ z: 1, a: { 2: 0 } }]];
    for (let i = 0; i < 200; i++) {
      const pick = () => values[Math.floor(Math.random() * values.length)];
      const random = Object.fromEntries(Object.keys(entry).map((key) => [key, pick()])) as unknown as AuditEntry;
      expect(new TextDecoder().decode(encodeEntry({ ...random, extra: "not committed" } as AuditEntry))).to.equal(canonicalJson(random));
    }
    const { purpose: _dropped, ...withoutPurpose } = entry;
    expect(new TextDecoder().decode(encodeEntry({ ...entry, purpose: undefined } as unknown as AuditEntry))).to.equal(canonicalJson(withoutPurpose));
  });

  it("refuses a number JSON cannot hold, at any depth", function () {
    for (const bad of [NaN, Infinity, { a: [1, -Infinity] }, { 7: NaN }]) {
      expect(() => encodeEntry({ ...entry, detail: { bad } })).to.throw(TypeError, /finite/);
    }
    expect(() => encodeEntry({ ...entry, at: NaN })).to.throw(TypeError, /finite/);
  });
});

describe("access log group commit", function () {
  const entry = (requestId: string) => logEntry({ kind: "write", requestId });
  let dir: string;
  let store: SqliteStore;
  const realSync = fs.fdatasync;
  let syncs: { done: (error?: Error) => void }[];

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), "dul-group-"));
    store = new SqliteStore(join(dir, "log.sqlite"));
    syncs = [];
    // The disk, held until the test lets each sync finish.
    (fs as { fdatasync: unknown }).fdatasync = (_fd: number, callback: (error: Error | null) => void) => syncs.push({ done: (error) => callback(error ?? null) });
  });
  afterEach(function () {
    (fs as { fdatasync: unknown }).fdatasync = realSync;
    store.close();
    removeDir(dir);
  });

  const settled = async <T>(promise: Promise<T>) => {
    let state = "pending";
    promise.then(() => (state = "resolved"), () => (state = "rejected"));
    await new Promise((resolve) => setImmediate(resolve));
    return state;
  };

  it("answers an append only after a sync that began after its commit; appends meanwhile share the next one", async function () {
    const first = store.appendLogDurably([entry("a")]);
    expect(syncs).to.have.length(1);
    // Committed and readable at once; durable only once the sync is done.
    expect(store.logSize()).to.equal(1);
    const second = store.appendLogDurably([entry("b")]);
    const third = store.appendLogDurably([entry("c"), entry("d")]);
    expect(syncs).to.have.length(1);
    expect(await settled(first)).to.equal("pending");

    syncs[0].done();
    expect(await first).to.deep.equal([0]);
    expect(await settled(second)).to.equal("pending");
    expect(syncs).to.have.length(2);
    syncs[1].done();
    expect(await second).to.deep.equal([1]);
    expect(await third).to.deep.equal([2, 3]);
    expect(syncs).to.have.length(2);
    expect(store.db.pragma("synchronous", { simple: true })).to.equal(2);
  });

  it("after a failed sync, calls nothing durable again: the appends it covered, those waiting and later ones all fail", async function () {
    const failed = store.appendLogDurably([entry("a")]);
    const waiting = store.appendLogDurably([entry("b")]);
    syncs[0].done(new Error("EIO"));
    await expect(failed).to.be.rejectedWith("could not be written to disk: EIO");
    await expect(waiting).to.be.rejectedWith("could not be written to disk: EIO");
    await expect(store.appendLogDurably([entry("c")])).to.be.rejectedWith("could not be written to disk: EIO");
    await expect(store.durableLogSize()).to.be.rejectedWith("EIO");
    // A later sync of the same file could succeed over the lost pages: none is even tried.
    expect(syncs).to.have.length(1);
    expect(store.logSize()).to.equal(2);
  });

  it("gives the audit API the size below which every entry is on disk", async function () {
    const pending = store.appendLogDurably([entry("a")]);
    const durable = store.durableLogSize();
    expect(syncs).to.have.length(1);
    syncs[0].done();
    await pending;
    // The size was read before this caller's sync began, which the sync under way may have missed.
    expect(await settled(durable)).to.equal("pending");
    // Entries committed after the call are not counted, synced or not.
    const later = store.appendLogDurably([entry("b")]);
    syncs[1].done();
    expect(await durable).to.equal(1);
    expect(await settled(later)).to.equal("pending");
    syncs[2].done();
    expect(await later).to.deep.equal([1]);
  });

  it("after an I/O error in any transaction, refuses every later append; other errors end nothing", function () {
    const failing = (code: string) => () =>
      store.transaction(() => {
        throw Object.assign(new Error("simulated"), { code });
      });
    expect(failing("SQLITE_CONSTRAINT")).to.throw("simulated");
    expect(store.appendLog([entry("a")])).to.deep.equal([0]);
    expect(failing("SQLITE_IOERR_FSYNC")).to.throw("simulated");
    expect(() => store.appendLog([entry("b")])).to.throw("could not be written to disk: simulated");
    return expect(store.appendLogDurably([entry("c")])).to.be.rejectedWith("could not be written to disk: simulated");
  });

  it("refuses to commit on its own inside another transaction", function () {
    expect(() => store.transaction(() => store.appendLogDurably([entry("a")]))).to.throw("inside a transaction");
  });
});
