import hre from "hardhat";
import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { DataUseRegistry } from "../../typechain-types";
import { grantIdOf, labelToId } from "../../core/ids";
import type { DeletionOrder } from "../../server/deletion/deletionStore";
import { readChainHistory } from "../../auditor/history";
import { verifyLog } from "../../auditor/verify";
import { call, chainNow, removeDir, synced, type TestGateway } from "../helpers/gateway";
import { gatewayWithParties } from "../helpers/parties";

/**
 * Every end of every grant issuance gets its own deletion order, end to end against a real gateway
 * on the Hardhat chain: an order id that repeats, or a grant marked handled for good, loses orders.
 */
describe("deletion orders: one per end of every grant issuance", function () {
  let gw: TestGateway;
  let registry: DataUseRegistry;
  let subject: HardhatEthersSigner;
  let service: HardhatEthersSigner;
  let tokens: Record<string, string>;
  let n = 0;
  const purpose = "dpv:ServiceProvision";
  const fresh = () => `deletion.ends.${++n}`;
  const dataPath = (category: string) => `/v1/subjects/${subject.address.toLowerCase()}/data/${category}`;

  const put = async (category: string, value: unknown) => {
    const res = await call(gw.url, dataPath(category), tokens.operator, { method: "PUT", body: { value } });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
  };
  const read = (category: string) => call(gw.url, `${dataPath(category)}?purpose=${purpose}`, tokens.service);
  const grantIdFor = (category: string) => grantIdOf(subject.address, service.address, labelToId(category), labelToId(purpose)).toLowerCase();
  const ordersFor = (category: string): DeletionOrder[] =>
    gw.gateway.deletion.deletions
      .listOrders({ subject: subject.address.toLowerCase(), limit: 10_000, offset: 0 })
      .filter((o) => o.grantId === grantIdFor(category))
      .sort((a, b) => a.endedAt - b.endedAt || a.createdAt - b.createdAt);
  const receiptsFor = (category: string) =>
    gw.gateway.store
      .readLog(0, gw.gateway.store.logSize())
      .filter((e) => e.kind === "deletion" && e.subject === subject.address.toLowerCase() && (e.detail as { categoryId?: string }).categoryId === labelToId(category).toLowerCase());
  /** A grant for an hour on a fresh category, with a data expiry a minute away, data stored and read once. */
  const grantedUnderDataExpiry = async () => {
    const category = fresh();
    const start = await chainNow();
    await (await registry.grant(service.address, labelToId(category), labelToId(purpose), start + 3600)).wait();
    const dataExpiresAt = start + 60;
    await (await registry.setDataExpiry(labelToId(category), dataExpiresAt)).wait();
    await synced(gw.gateway);
    await put(category, "before");
    expect((await read(category)).status).to.equal(200);
    return { category, dataExpiresAt };
  };
  /** Catch up and run the scheduler twice: a second run must add nothing. */
  const settle = async () => {
    await synced(gw.gateway);
    gw.gateway.deletion.runDue();
    gw.gateway.deletion.runDue();
  };

  before(async function () {
    ({ gw, registry, subject, service, tokens } = await gatewayWithParties());
  });

  after(async function () {
    await gw.close();
    removeDir(gw.dataDir);
  });

  it("orders again when the subject deletes, stores again, the service reads again and the subject deletes again", async function () {
    const category = fresh();
    await (await registry.grant(service.address, labelToId(category), labelToId(purpose), (await chainNow()) + 3600)).wait();
    await synced(gw.gateway);
    await put(category, "first");
    expect((await read(category)).status).to.equal(200);
    const first = await call(gw.url, dataPath(category), tokens.subject, { method: "DELETE" });
    expect(first.body.orders).to.have.length(1);

    await put(category, "second");
    expect((await read(category)).status).to.equal(200);
    const second = await call(gw.url, dataPath(category), tokens.subject, { method: "DELETE" });
    expect(second.status, JSON.stringify(second.body)).to.equal(200);
    expect(second.body.orders).to.have.length(1);
    expect(second.body.orders[0]).to.not.equal(first.body.orders[0]);
    expect(ordersFor(category).map((o) => o.reason)).to.deep.equal(["data-deleted", "data-deleted"]);
  });

  it("orders again at the grant's own end after an on-demand deletion: the service may have read data stored since", async function () {
    const category = fresh();
    const expiresAt = (await chainNow()) + 600;
    await (await registry.grant(service.address, labelToId(category), labelToId(purpose), expiresAt)).wait();
    await synced(gw.gateway);
    await put(category, "first");
    expect((await call(gw.url, dataPath(category), tokens.subject, { method: "DELETE" })).body.orders).to.have.length(1);
    await put(category, "second");
    expect((await read(category)).status).to.equal(200);
    await time.increaseTo(expiresAt);
    await settle();
    const orders = ordersFor(category);
    expect(orders.map((o) => o.reason)).to.deep.equal(["data-deleted", "expired"]);
    expect(orders[1].endedAt).to.equal(expiresAt);
  });

  it("orders again when a grant revives after its data expiry is cleared, and ends again", async function () {
    const { category, dataExpiresAt } = await grantedUnderDataExpiry();

    await time.increaseTo(dataExpiresAt);
    await settle();
    expect(ordersFor(category).map((o) => [o.reason, o.endedAt])).to.deep.equal([["data-expired", dataExpiresAt]]);
    expect(receiptsFor(category)).to.have.length(1);

    // Clearing the data expiry revives the grant (DataUseRegistry.check reads it live); a later one
    // lets the subject store again.
    await (await registry.setDataExpiry(labelToId(category), 0)).wait();
    const laterExpiry = (await chainNow()) + 600;
    await (await registry.setDataExpiry(labelToId(category), laterExpiry)).wait();
    await settle();
    await put(category, "after");
    expect((await read(category)).status).to.equal(200);
    await (await registry.revoke(grantIdFor(category))).wait();
    const revokedAt = await time.latest();
    await settle();
    const orders = ordersFor(category);
    expect(orders.map((o) => [o.reason, o.endedAt])).to.deep.equal([
      ["data-expired", dataExpiresAt],
      ["revoked", revokedAt],
    ]);
    expect(new Set(orders.map((o) => o.id)).size).to.equal(2);
  });

  it("deletes nothing for a data expiry cleared before it fell due", async function () {
    const category = fresh();
    const start = await chainNow();
    await (await registry.grant(service.address, labelToId(category), labelToId(purpose), start + 3600)).wait();
    await (await registry.setDataExpiry(labelToId(category), start + 60)).wait();
    await put(category, "kept");
    await (await registry.setDataExpiry(labelToId(category), 0)).wait();
    await time.increaseTo(start + 120);
    await settle();
    expect(ordersFor(category)).to.deep.equal([]);
    expect(receiptsFor(category)).to.deep.equal([]);
    expect((await read(category)).status).to.equal(200);
  });

  it("shreds and orders for a data expiry cleared in the very block that passed it", async function () {
    const { category, dataExpiresAt } = await grantedUnderDataExpiry();

    // No block between: the gateway never sees the expiry in force at a head past it.
    await time.setNextBlockTimestamp(dataExpiresAt + 5);
    await (await registry.setDataExpiry(labelToId(category), 0)).wait();
    await settle();
    expect(receiptsFor(category).map((e) => (e.detail as { expiresAt: number }).expiresAt)).to.deep.equal([dataExpiresAt]);
    expect(gw.gateway.store.getRecord(subject.address.toLowerCase(), category)).to.equal(null);
    expect(ordersFor(category).map((o) => [o.reason, o.endedAt])).to.deep.equal([["data-expired", dataExpiresAt]]);
  });

  it("orders for an issuance whose end the gateway only learns from the block that re-issues the grant", async function () {
    const category = fresh();
    const firstExpiry = (await chainNow()) + 60;
    await (await registry.grant(service.address, labelToId(category), labelToId(purpose), firstExpiry)).wait();
    const firstGrantedAt = await time.latest();
    await synced(gw.gateway);
    await put(category, "x");
    expect((await read(category)).status).to.equal(200);

    await time.setNextBlockTimestamp(firstExpiry + 5);
    await (await registry.grant(service.address, labelToId(category), labelToId(purpose), firstExpiry + 600)).wait();
    await settle();
    expect((await read(category)).status).to.equal(200);
    await (await registry.revoke(grantIdFor(category))).wait();
    const revokedAt = await time.latest();
    await settle();
    expect(ordersFor(category).map((o) => [o.grantedAt, o.reason, o.endedAt])).to.deep.equal([
      [firstGrantedAt, "expired", firstExpiry],
      [firstExpiry + 5, "revoked", revokedAt],
    ]);
  });

  it("leaves the auditor nothing to find: an order for every end of every issuance, a receipt for every data expiry", async function () {
    await settle();
    const history = await readChainHistory(hre.ethers.provider, gw.deployment);
    const entries = gw.gateway.store.readLog(0, gw.gateway.store.logSize());
    const report = await verifyLog({ entries, checkpoints: [], history, graceSeconds: 0 });
    expect(report.grantEnds).to.be.greaterThan(5);
    expect(report.dataExpiries).to.be.greaterThan(1);
    expect(report.violations.filter((v) => v.rule === "deletion-order-missing" || v.rule === "deletion-receipt-missing")).to.deep.equal([]);
  });
});
