import hre from "hardhat";
import { expect } from "chai";
import type { Signer } from "ethers";
import { DataUseRegistry__factory, type DataUseRegistry } from "../../typechain-types";
import { grantIdOf, labelToId } from "../../core/ids";
import type { RpcProvider } from "../../server/chain/logs";
import { readChainHistory } from "../../auditor/history";
import { verifyLog } from "../../auditor/verify";
import { startAnvil, type Anvil } from "../helpers/anvil";
import { call, login, removeDir, startTestGateway, synced, type TestGateway } from "../helpers/gateway";

/** One chain the gateway runs on: how to reach it and how to move its clock. */
interface Chain {
  name: string;
  provider: RpcProvider;
  signers: Signer[];
  /** Mines one block at `timestamp`. */
  mineAt(timestamp: number): Promise<void>;
  headTime(): Promise<number>;
  stop(): Promise<void>;
}

async function hardhatChain(): Promise<Chain> {
  const provider = hre.ethers.provider;
  const send = (method: string, params: unknown[]) => provider.send(method, params);
  return {
    name: "Hardhat",
    provider,
    signers: (await hre.ethers.getSigners()).slice(0, 5) as unknown as Signer[],
    async mineAt(timestamp) {
      await send("evm_setNextBlockTimestamp", [timestamp]);
      await send("evm_mine", []);
    },
    headTime: async () => Number((await send("eth_getBlockByNumber", ["latest", false])).timestamp),
    stop: async () => undefined,
  };
}

async function anvilChain(anvil: Anvil): Promise<Chain> {
  return { name: "anvil", provider: anvil.provider, signers: anvil.signers, mineAt: (t) => anvil.mineAt(t), headTime: async () => (await anvil.latest()).timestamp, stop: () => anvil.stop() };
}

/** A gateway over `chain`, with a subject whose data a service asks for. */
async function setUp(chain: Chain) {
  const [deployer, subject, service, , operator] = chain.signers;
  const gw = await startTestGateway({ chain: { provider: chain.provider, signer: deployer, chainId: 31337 }, operators: [await operator.getAddress()] });
  const registry: DataUseRegistry = DataUseRegistry__factory.connect(gw.deployment.contracts.DataUseRegistry.address, subject);
  const [serviceToken, operatorToken] = [await login(gw.url, service, gw.gateway.domain), await login(gw.url, operator, gw.gateway.domain)];
  const subjectAddress = (await subject.getAddress()).toLowerCase();
  const serviceAddress = await service.getAddress();
  const purpose = "dpv:ServiceProvision";
  let counter = 0;
  const path = (category: string) => `/v1/subjects/${subjectAddress}/data/${category}`;
  return {
    gw,
    registry,
    serviceAddress,
    async freshCategory() {
      counter += 1;
      const category = `contact.email.${chain.name.toLowerCase()}${counter}`;
      const res = await call(gw.url, path(category), operatorToken, { method: "PUT", body: { value: { email: `u${counter}@example.org` } } });
      expect(res.status).to.equal(201);
      return category;
    },
    async grant(category: string, expiresAt: number) {
      return (await (await registry.grant(serviceAddress, labelToId(category), labelToId(purpose), expiresAt)).wait())!;
    },
    release: (category: string) => call(gw.url, `${path(category)}?purpose=${encodeURIComponent(purpose)}`, serviceToken),
    sync: () => synced(gw.gateway, chain.provider),
    purpose,
  };
}

for (const make of [() => hardhatChain(), async () => anvilChain(await startAnvil())]) {
  describe("gateway on two EVM clients: the same decisions on Hardhat and on anvil", function () {
    let chain: Chain;
    let t: Awaited<ReturnType<typeof setUp>>;

    before(async function () {
      chain = await make();
      t = await setUp(chain);
    });
    after(async function () {
      await t.gw.close();
      removeDir(t.gw.dataDir);
      await chain.stop();
    });

    it("releases under a grant, and denies once it is revoked, shortened past or expired", async function () {
      const [a, b, c] = [await t.freshCategory(), await t.freshCategory(), await t.freshCategory()];
      const now = await chain.headTime();
      for (const category of [a, b, c]) await t.grant(category, now + 3600);
      await t.sync();
      for (const category of [a, b, c]) expect((await t.release(category)).status, `${chain.name}: ${category}`).to.equal(200);

      await (await t.registry.revokeAll(t.serviceAddress)).wait();
      await t.sync();
      for (const category of [a, b, c]) expect((await t.release(category)).body.error.code, chain.name).to.equal("GRANT_REVOKED");

      // A grant in the same second as a revoke-all is covered by it (the contract's rule): anvil,
      // unlike Hardhat, gives blocks of one second the same timestamp.
      await chain.mineAt((await chain.headTime()) + 1);
      const d = await t.freshCategory();
      const expiresAt = (await chain.headTime()) + 100;
      await t.grant(d, expiresAt);
      await t.sync();
      expect((await t.release(d)).status).to.equal(200);
      await chain.mineAt(expiresAt);
      await t.sync();
      expect((await t.release(d)).body.error.code, chain.name).to.equal("GRANT_EXPIRED");
    });
  });
}

describe("real reorganisations (anvil_reorg): decision, deletion and audit follow the chain that won", function () {
  let anvil: Anvil;
  let t: Awaited<ReturnType<typeof setUp>>;
  let gw: TestGateway;

  before(async function () {
    anvil = await startAnvil();
    t = await setUp(await anvilChain(anvil));
    gw = t.gw;
  });
  after(async function () {
    await gw.close();
    removeDir(gw.dataDir);
    await anvil.stop();
  });

  const depthTo = async (blockNumber: number) => (await anvil.latest()).number - blockNumber + 1;

  /** Grants `category`, has it released, then drops the grant's block in a reorganisation. */
  async function releasedThenReorged(category: string): Promise<void> {
    const receipt = await t.grant(category, (await anvil.latest()).timestamp + 3600);
    await t.sync();
    expect((await t.release(category)).status).to.equal(200);
    await anvil.reorg(await depthTo(receipt.blockNumber));
    await t.sync();
  }

  it("denies a release under a grant that a reorganisation removed", async function () {
    const category = await t.freshCategory();
    await releasedThenReorged(category);
    const denied = await t.release(category);
    expect(denied.status).to.equal(403);
    expect(denied.body.error.code).to.equal("NO_GRANT");
  });

  it("denies after the old expiry when a reorganisation removed the extension", async function () {
    const category = await t.freshCategory();
    const start = (await anvil.latest()).timestamp;
    await t.grant(category, start + 100);
    const extension = (await (await t.registry.changeExpiry(await idOf(t, category), start + 10_000)).wait())!;
    await t.sync();
    await anvil.reorg(await depthTo(extension.blockNumber));
    await anvil.mineAt(start + 150);
    await t.sync();
    expect((await t.release(category)).body.error.code).to.equal("GRANT_EXPIRED");
  });

  it("releases again when a reorganisation removed the revocation, as the chain that won says", async function () {
    const category = await t.freshCategory();
    await t.grant(category, (await anvil.latest()).timestamp + 3600);
    const revocation = (await (await t.registry.revoke(await idOf(t, category))).wait())!;
    await t.sync();
    expect((await t.release(category)).body.error.code).to.equal("GRANT_REVOKED");
    await anvil.reorg(await depthTo(revocation.blockNumber));
    await t.sync();
    expect((await t.release(category)).status).to.equal(200);
  });

  it("sends a deletion order for data released under a grant that a reorganisation removed", async function () {
    const category = await t.freshCategory();
    await releasedThenReorged(category);
    gw.gateway.deletion.runDue();
    const orders = gw.gateway.deletion.deletions.listOrders({ grantee: t.serviceAddress.toLowerCase(), limit: 100, offset: 0 });
    expect(orders.map((o) => o.category)).to.include(labelToId(category));
  });

  it("passes the audit after reorganisations: releases under a removed grant are findings with evidence, not forgeries", async function () {
    await releasedThenReorged(await t.freshCategory());
    // An honest release after the reorganisation, under a grant that survives it.
    const survivor = await t.freshCategory();
    await t.grant(survivor, (await anvil.latest()).timestamp + 3600);
    await t.sync();
    expect((await t.release(survivor)).status).to.equal(200);
    gw.gateway.deletion.runDue();
    await gw.gateway.audit.checkpoint();

    const history = await readChainHistory(anvil.provider, gw.deployment);
    const entries = gw.gateway.store.readLog(0, gw.gateway.store.logSize());
    const report = await verifyLog({ entries, checkpoints: gw.gateway.audit.listCheckpoints(0, 1000), history, graceSeconds: 0 });
    expect(report.violations, JSON.stringify(report.violations.slice(0, 5))).to.deep.equal([]);
    expect(report.ok).to.equal(true);
    // Every release under a grant the chain lost is a finding, with a deletion order after it.
    const reorged = report.findings.filter((f) => f.rule === "release-under-reorged-grant");
    expect(reorged.length).to.be.greaterThanOrEqual(3);
  });
});

async function idOf(t: Awaited<ReturnType<typeof setUp>>, category: string): Promise<string> {
  const subject = await (t.registry.runner as Signer).getAddress();
  return grantIdOf(subject, t.serviceAddress, labelToId(category), labelToId(t.purpose));
}
