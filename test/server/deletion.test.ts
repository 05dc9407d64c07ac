import hre from "hardhat";
import { expect } from "chai";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { hexlify, randomBytes, verifyMessage } from "ethers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { DataUseRegistry__factory, type DataUseRegistry } from "../../typechain-types";
import { labelToId, grantIdOf } from "../../core/ids";
import { ackMessage } from "../../server/deletion/outbox";
import { DeletionStore, type EndedGrant } from "../../server/deletion/deletionStore";
import { SqliteStore } from "../../server/store/sqlite";
import type { ChainEvent } from "../../server/store/types";
import { eventMiner } from "../helpers/chainEvents";
import { gatewayWithParties } from "../helpers/parties";
import { call, login, removeDir, startTestGateway, synced, type TestGateway, chainNow } from "../helpers/gateway";

/** A service's webhook on loopback that answers 500 to the first `failures` deliveries of each order, then 200. */
async function receiver(failures = 0): Promise<{ url: string; received: { body: string; signature: string; signer: string }[]; close(): Promise<void> }> {
  const received: { body: string; signature: string; signer: string }[] = [];
  const seen = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      received.push({ body, signature: String(req.headers["x-dul-signature"]), signer: String(req.headers["x-dul-signer"]) });
      const orderId = String(JSON.parse(body).orderId);
      const attempt = (seen.get(orderId) ?? 0) + 1;
      seen.set(orderId, attempt);
      res.statusCode = attempt <= failures ? 500 : 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/deletion-orders`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function until<T>(probe: () => T | Promise<T>, ok: (value: T) => boolean, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("auto-deletion (step 3)", function () {
  let gw: TestGateway;
  let registry: DataUseRegistry;
  let subject: HardhatEthersSigner;
  let service: HardhatEthersSigner;
  let operator: HardhatEthersSigner;
  let tokens: Record<string, string>;
  let n = 0;
  const purpose = "dpv:ServiceProvision";

  const put = async (category: string, value: unknown, who = subject) => {
    const res = await call(gw.url, `/v1/subjects/${who.address.toLowerCase()}/data/${category}`, tokens.operator, { method: "PUT", body: { value } });
    expect(res.status).to.equal(201);
  };
  const fresh = () => `deletion.test.${++n}`;

  before(async function () {
    ({ gw, registry, subject, service, tokens } = await gatewayWithParties({ OUTBOX_BASE_DELAY_MS: "30", OUTBOX_INTERVAL_MS: "20", SCHEDULER_INTERVAL_MS: "50" }));
  });

  after(async function () {
    await gw.close();
    removeDir(gw.dataDir);
  });

  it("crypto-shreds data at its expiry: gone within a tick, no bytes left in DB or WAL, a receipt in the log", async function () {
    const [, , , , , lonely] = await hre.ethers.getSigners();
    const category = fresh();
    const secret = `burn-after-use-${Date.now()}`;
    await put(category, { secret }, lonely);
    const sealed = gw.gateway.store.getRecord(lonely.address.toLowerCase(), category)!.sealed;
    const ciphertext = sealed.subarray(28);
    const lonelyRegistry = registry.connect(lonely);
    const expiresAt = (await time.latest()) + 120;
    await (await lonelyRegistry.grant(service.address, labelToId(category), labelToId(purpose), expiresAt + 3600)).wait();
    await (await lonelyRegistry.setDataExpiry(labelToId(category), expiresAt)).wait();
    await synced(gw.gateway);
    const path = `/v1/subjects/${lonely.address.toLowerCase()}/data/${category}?purpose=${purpose}`;
    expect((await call(gw.url, path, tokens.service)).status).to.equal(200);

    await time.increaseTo(expiresAt);
    await synced(gw.gateway);
    const gone = await until(() => gw.gateway.store.getRecord(lonely.address.toLowerCase(), category), (r) => r === null, 1000);
    expect(gone).to.equal(null);
    const denied = await call(gw.url, path, tokens.service);
    expect(denied.status).to.equal(403);
    expect(denied.body.error.code).to.equal("DATA_EXPIRED");
    expect(gw.gateway.store.getWrappedKey(lonely.address.toLowerCase())).to.equal(null);

    const files = readdirSync(gw.dataDir).filter((f) => f.startsWith("gateway.sqlite"));
    expect(files).to.include("gateway.sqlite");
    for (const file of files) {
      const bytes = readFileSync(join(gw.dataDir, file));
      expect(bytes.includes(Buffer.from(secret)), `${file} holds the value`).to.equal(false);
      expect(bytes.includes(ciphertext), `${file} holds the ciphertext`).to.equal(false);
    }
    const receipts = gw.gateway.store.readLog(0, gw.gateway.store.logSize()).filter((e) => e.kind === "deletion" && e.subject === lonely.address.toLowerCase());
    expect(receipts).to.have.length(1);
    expect(receipts[0].category).to.equal(category);
    expect(receipts[0].detail).to.deep.include({ rule: "data-expiry", records: 1, expiresAt });
  });

  it("orders the service to delete when a grant expires: one order, retried while the webhook answers 500, delivered signed, acknowledged", async function () {
    const hook = await receiver(2);
    try {
      expect((await call(gw.url, "/v1/services/me", tokens.service, { method: "PUT", body: { displayName: "Acme Mail", webhookUrl: hook.url } })).status).to.equal(200);
      const category = fresh();
      await put(category, "x");
      const expiresAt = (await chainNow()) + 60;
      await (await registry.grant(service.address, labelToId(category), labelToId(purpose), expiresAt)).wait();
      await synced(gw.gateway);
      await time.increaseTo(expiresAt);
      await synced(gw.gateway);
      gw.gateway.deletion.runDue();
      gw.gateway.deletion.runDue();
      const grantId = grantIdOf(subject.address, service.address, labelToId(category), labelToId(purpose)).toLowerCase();
      const orders = gw.gateway.deletion.deletions.listOrders({ subject: subject.address.toLowerCase(), limit: 1000, offset: 0 }).filter((o) => o.grantId === grantId);
      expect(orders).to.have.length(1);
      expect(orders[0]).to.include({ reason: "expired", endedAt: expiresAt, grantee: service.address.toLowerCase() });

      const delivered = await until(() => gw.gateway.deletion.deletions.getOrder(orders[0].id)!, (o) => o.status === "delivered");
      expect(delivered.status).to.equal("delivered");
      expect(delivered.attempts).to.equal(3);
      const bodies = hook.received.filter((r) => JSON.parse(r.body).orderId === orders[0].id);
      expect(bodies).to.have.length(3);
      const last = bodies[2];
      expect(verifyMessage(last.body, last.signature).toLowerCase()).to.equal(gw.deployment.deployer.toLowerCase());
      expect(JSON.parse(last.body)).to.include({ subject: subject.address.toLowerCase(), grantId, reason: "expired" });

      const badAck = await call(gw.url, `/v1/deletion-orders/${orders[0].id}/ack`, tokens.service, { method: "POST", body: { signature: await subject.signMessage(ackMessage(orders[0].id)) } });
      expect(badAck.status).to.equal(400);
      const notMine = await call(gw.url, `/v1/deletion-orders/${orders[0].id}/ack`, tokens.subject, { method: "POST", body: { signature: await subject.signMessage(ackMessage(orders[0].id)) } });
      expect(notMine.status).to.equal(403);
      const ack = await call(gw.url, `/v1/deletion-orders/${orders[0].id}/ack`, tokens.service, { method: "POST", body: { signature: await service.signMessage(ackMessage(orders[0].id)) } });
      expect(ack.status).to.equal(200);
      expect(ack.body.status).to.equal("acknowledged");

      const listed = await call(gw.url, `/v1/deletion-orders?subject=${subject.address}&status=acknowledged`, tokens.subject);
      expect(listed.body.orders.map((o: { id: string }) => o.id)).to.include(orders[0].id);
      const kinds = gw.gateway.store
        .readLog(0, gw.gateway.store.logSize())
        .filter((e) => (e.detail as { orderId?: string } | null)?.orderId === orders[0].id)
        .map((e) => e.kind);
      expect(kinds).to.deep.equal(["deletion-order", "deletion-delivery-failed", "deletion-delivery-failed", "deletion-delivered", "deletion-ack"]);
    } finally {
      await hook.close();
    }
  });

  it("orders deletion exactly once on a revocation and once on revokeAll, and on an on-demand DELETE", async function () {
    const category = fresh();
    await put(category, "y");
    const expiresAt = (await time.latest()) + 3600;
    await (await registry.grant(service.address, labelToId(category), labelToId(purpose), expiresAt)).wait();
    await (await registry.revoke(grantIdOf(subject.address, service.address, labelToId(category), labelToId(purpose)))).wait();
    await synced(gw.gateway);
    gw.gateway.deletion.runDue();
    gw.gateway.deletion.runDue();
    const ofCategory = () => gw.gateway.deletion.deletions.listOrders({ subject: subject.address.toLowerCase(), limit: 10_000, offset: 0 }).filter((o) => o.category === labelToId(category).toLowerCase());
    expect(ofCategory().map((o) => o.reason)).to.deep.equal(["revoked"]);

    const [, , , , , , , cutOff] = await hre.ethers.getSigners();
    const cut = registry.connect(cutOff);
    const cutCategories = [fresh(), fresh()];
    await (await cut.grantBatch(cutCategories.map((c) => ({ grantee: service.address, category: labelToId(c), purpose: labelToId(purpose), expiresAt })))).wait();
    await (await cut.revokeAll(service.address)).wait();
    await synced(gw.gateway);
    gw.gateway.deletion.runDue();
    gw.gateway.deletion.runDue();
    const cutOrders = gw.gateway.deletion.deletions.listOrders({ subject: cutOff.address.toLowerCase(), limit: 100, offset: 0 });
    expect(cutOrders.map((o) => o.reason)).to.deep.equal(["revoked-all", "revoked-all"]);
    expect(cutOrders.map((o) => o.category).sort()).to.deep.equal(cutCategories.map((c) => labelToId(c).toLowerCase()).sort());

    const other = fresh();
    await put(other, "z");
    await (await registry.grant(service.address, labelToId(other), labelToId(purpose), expiresAt)).wait();
    await synced(gw.gateway);
    const otherPath = `/v1/subjects/${subject.address.toLowerCase()}/data/${other}`;
    const del = await call(gw.url, otherPath, tokens.subject, { method: "DELETE" });
    expect(del.status, JSON.stringify(del.body)).to.equal(200);
    expect(del.body.deleted).to.equal(1);
    expect(del.body.orders).to.have.length(1);
    expect(gw.gateway.deletion.deletions.getOrder(del.body.orders[0])!.reason).to.equal("data-deleted");
    expect(gw.gateway.store.getRecord(subject.address.toLowerCase(), other)).to.equal(null);
    const released = await call(gw.url, `${otherPath}?purpose=${purpose}`, tokens.service);
    expect(released.status).to.equal(404);
    expect(released.body.error.code).to.equal("NO_DATA");

    const again = await call(gw.url, otherPath, tokens.subject, { method: "DELETE" });
    expect(again.body).to.include({ deleted: 0 });
    expect(again.body.orders).to.have.length(0);
  });

  it("1,000 grants expiring in the same second produce 1,000 orders: none missing, none twice", async function () {
    const [, , , , , , bulkSubject] = await hre.ethers.getSigners();
    const bulk = registry.connect(bulkSubject);
    const expiresAt = (await time.latest()) + 600;
    const purposeId = labelToId(purpose);
    for (let batch = 0; batch < 4; batch++) {
      const requests = Array.from({ length: 250 }, (_, i) => ({ grantee: service.address, category: labelToId(`bulk.${batch}.${i}`), purpose: purposeId, expiresAt }));
      await (await bulk.grantBatch(requests)).wait();
    }
    await synced(gw.gateway);
    await time.increaseTo(expiresAt);
    await synced(gw.gateway);
    gw.gateway.deletion.runDue();
    gw.gateway.deletion.runDue();
    const orders = gw.gateway.deletion.deletions.listOrders({ subject: bulkSubject.address.toLowerCase(), limit: 5000, offset: 0 });
    expect(orders).to.have.length(1000);
    expect(new Set(orders.map((o) => o.grantId)).size).to.equal(1000);
    expect(orders.every((o) => o.endedAt === expiresAt && o.reason === "expired")).to.equal(true);
  });
});

describe("auto-deletion after downtime", function () {
  it("carries out everything that fell due while the gateway was stopped before serving a release", async function () {
    const [, subject, service, , operator] = await hre.ethers.getSigners();
    const first = await startTestGateway({ operators: [operator.address] });
    const registry = DataUseRegistry__factory.connect(first.deployment.contracts.DataUseRegistry.address, subject);
    const operatorToken = await login(first.url, operator, first.gateway.domain);
    const stored = await call(first.url, `/v1/subjects/${subject.address.toLowerCase()}/data/downtime.a`, operatorToken, { method: "PUT", body: { value: 1 } });
    expect(stored.status).to.equal(201);
    const t = await time.latest();
    await (await registry.grant(service.address, labelToId("downtime.b"), labelToId("dpv:Marketing"), t + 300)).wait();
    await (await registry.setDataExpiry(labelToId("downtime.a"), t + 200)).wait();
    await synced(first.gateway);
    expect(first.gateway.store.getRecord(subject.address.toLowerCase(), "downtime.a")).to.not.equal(null);
    await first.close();

    await time.increaseTo(t + 1000);
    const second = await startTestGateway({ deployment: first.deployment, dataDir: first.dataDir, operators: [operator.address] });
    try {
      // Nothing has been requested yet: start-up alone must have done it.
      expect(second.gateway.store.getRecord(subject.address.toLowerCase(), "downtime.a")).to.equal(null);
      const orders = second.gateway.deletion.deletions.listOrders({ subject: subject.address.toLowerCase(), limit: 10_000, offset: 0 });
      expect(orders.filter((o) => o.category === labelToId("downtime.b").toLowerCase())).to.have.length(1);
    } finally {
      await second.close();
      removeDir(first.dataDir);
    }
  });
});

describe("expiry scheduler's reads", function () {
  const word = () => hexlify(randomBytes(32));
  const address = () => hexlify(randomBytes(20));
  let dir: string;
  let store: SqliteStore;
  let deletions: DeletionStore;
  /** Applies one block holding `events` (a grant's id is derived from its fields, as on-chain). */
  const mineEvents = eventMiner(() => store).mine;
  const issued = (subject: string, grantee: string, category: string, expiresAt: number): Partial<ChainEvent> => ({
    kind: "issued", subject, grantee, category, purpose: word(), grantId: grantIdOf(subject, grantee, category, word()).toLowerCase(), expiresAt,
  });
  /** What the scheduler does each tick: end what is due, then settle. */
  function tick(now: number): EndedGrant[] {
    const ended = deletions.endedGrants(now, 2000);
    for (const grant of ended) deletions.createOrder(grant, now);
    deletions.settle(now);
    return ended;
  }

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), "dul-sched-"));
    store = new SqliteStore(join(dir, "g.sqlite"));
    deletions = new DeletionStore(store.db);
  });
  afterEach(function () {
    store.close();
    removeDir(dir);
  });

  it("read through indexes: no step walks every live grant", function () {
    const plan = store.db
      .prepare("EXPLAIN QUERY PLAN " + (deletions as unknown as { s: { endedGrants: { source: string } } }).s.endedGrants.source)
      .all({ now: 1, limit: 1 }) as { detail: string }[];
    const scans = plan.map((step) => step.detail).filter((detail) => /^SCAN (grants|g)\b/.test(detail));
    expect(scans).to.deep.equal([]);
  });

  it("still end a grant issued under a cutoff or a data expiry that was already settled", function () {
    const [subject, grantee] = [address(), address()];
    const [category, later] = [word(), word()];
    const first = issued(subject, grantee, category, 10_000);
    mineEvents(1000, first);
    mineEvents(1100, { kind: "allRevoked", subject, grantee });
    expect(tick(1200).map((g) => [g.grantId, g.reason])).to.deep.equal([[first.grantId, "revoked-all"]]);
    expect(tick(1300)).to.deep.equal([]);

    // The same block time as the cutoff: the registry's rule (granted at or before it) revokes it too.
    const sameBlock = issued(subject, grantee, later, 10_000);
    mineEvents(1100, sameBlock);
    expect(tick(1400).map((g) => [g.grantId, g.reason])).to.deep.equal([[sameBlock.grantId, "revoked-all"]]);

    const other = address();
    mineEvents(1500, { kind: "dataExpiry", subject, category: later, expiresAt: 1600, previousExpiresAt: 0 });
    expect(deletions.dueDataExpiries(1700, 10)).to.have.length(1);
    deletions.markDataExpiryHandled(deletions.dueDataExpiries(1700, 10)[0], 1700);
    expect(tick(1700)).to.deep.equal([]);
    const underExpiredData = issued(subject, other, later, 10_000);
    mineEvents(1800, underExpiredData);
    expect(tick(1900).map((g) => [g.grantId, g.reason, g.endedAt])).to.deep.equal([[underExpiredData.grantId, "data-expired", 1600]]);
  });

  it("settle with nothing pending only reads: it never waits for the write lock the log's writer holds", function () {
    const [subject, grantee, category] = [address(), address(), word()];
    mineEvents(1000, issued(subject, grantee, category, 10_000), { kind: "allRevoked", subject, grantee });
    expect(tick(1100).map((g) => g.reason)).to.deep.equal(["revoked-all"]);

    const writer = new Database(store.path);
    store.db.pragma("busy_timeout = 0");
    writer.exec("BEGIN IMMEDIATE");
    try {
      expect(() => tick(1200)).not.to.throw();
      // A pending data expiry gives settle something to write: now it needs the lock.
      writer.exec("COMMIT");
      mineEvents(1300, { kind: "dataExpiry", subject, category, expiresAt: 1250, previousExpiresAt: 0 });
      writer.exec("BEGIN IMMEDIATE");
      expect(() => deletions.settle(1400)).to.throw(/database is locked/);
    } finally {
      writer.exec("ROLLBACK");
      writer.close();
    }
  });

  it("end grants under a data expiry when it falls due, not before", function () {
    const [subject, grantee, category] = [address(), address(), word()];
    const grant = issued(subject, grantee, category, 10_000);
    mineEvents(1000, grant, { kind: "dataExpiry", subject, category, expiresAt: 3000, previousExpiresAt: 0 });
    expect(tick(2999)).to.deep.equal([]);
    expect(tick(3000).map((g) => [g.grantId, g.reason])).to.deep.equal([[grant.grantId, "data-expired"]]);
  });

  it("look once at every cutoff and data expiry of a database made before they tracked what is pending", function () {
    store.close();
    const old = join(dir, "old.sqlite");
    const legacy = new Database(old);
    legacy.exec(`CREATE TABLE cutoffs (subject TEXT NOT NULL, grantee TEXT NOT NULL, revoked_at INTEGER NOT NULL, block_number INTEGER NOT NULL, PRIMARY KEY (subject, grantee)) WITHOUT ROWID;
      CREATE TABLE data_expiries (subject TEXT NOT NULL, category TEXT NOT NULL, expires_at INTEGER NOT NULL, previous_expires_at INTEGER NOT NULL, block_number INTEGER NOT NULL, PRIMARY KEY (subject, category)) WITHOUT ROWID;`);
    const [subject, grantee] = [address(), address()];
    legacy.prepare("INSERT INTO cutoffs VALUES (?, ?, 1100, 2)").run(subject, grantee);
    legacy.close();
    store = new SqliteStore(old);
    deletions = new DeletionStore(store.db);
    const grant = issued(subject, grantee, word(), 10_000);
    store.db
      .prepare(
        `INSERT INTO grants (subject, grant_id, grantee, category, purpose, granted_at, expires_at, previous_expires_at, issued_block, block_number, tx_hash)
         VALUES (?, ?, ?, ?, ?, 1000, 10000, 10000, 1, 1, ?)`,
      )
      .run(subject, grant.grantId, grantee, grant.category, grant.purpose, word());
    expect(tick(1200).map((g) => [g.grantId, g.reason])).to.deep.equal([[grant.grantId, "revoked-all"]]);
  });
});
