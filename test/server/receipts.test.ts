import hre from "hardhat";
import { expect } from "chai";
import { hexlify, randomBytes } from "ethers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { DataUseRegistry__factory, type DataUseRegistry } from "../../typechain-types";
import { grantIdOf, labelToId } from "../../core/ids";
import { readDomain, typesFor } from "../../core/eip712";
import type { RpcProvider } from "../../server/chain/logs";
import { deployLedger } from "../../scripts/lib/deploy";
import { call, login, removeDir, startTestGateway, synced, type TestGateway } from "../helpers/gateway";

/**
 * A node whose head reads can be held: the gateway's poll stalls on them while every other call
 * (receipts, blocks by number) is answered. The index stays "fresh" by MAX_INDEX_AGE_MS meanwhile.
 */
function holdablePolls(inner: RpcProvider): { provider: RpcProvider; hold(): void; release(): void } {
  let held: Promise<void> | null = null;
  let open: () => void = () => undefined;
  const provider = new Proxy(inner, {
    get(target, property, receiver) {
      if (property !== "send") return Reflect.get(target, property, receiver);
      return async (method: string, params: unknown[]) => {
        if (held && method === "eth_getBlockByNumber" && params[0] === "latest") await held;
        return target.send(method, params);
      };
    },
  }) as RpcProvider;
  return {
    provider,
    hold: () => void (held = new Promise<void>((resolve) => (open = resolve))),
    release: () => {
      held = null;
      open();
    },
  };
}

describe("mined transactions handed to the gateway (POST /v1/chain/transactions)", function () {
  let gw: TestGateway;
  let node: ReturnType<typeof holdablePolls>;
  let registry: DataUseRegistry;
  let subject: HardhatEthersSigner;
  let service: HardhatEthersSigner;
  let operator: HardhatEthersSigner;
  let serviceToken: string;
  let operatorToken: string;
  let counter = 0;
  const purpose = "dpv:ServiceProvision";

  const path = (category: string) => `/v1/subjects/${subject.address.toLowerCase()}/data/${category}`;
  const release = (category: string, token = serviceToken) => call(gw.url, `${path(category)}?purpose=${encodeURIComponent(purpose)}`, token);
  const handOver = (txHash: unknown) => call(gw.url, "/v1/chain/transactions", null, { method: "POST", body: { txHash } });

  /** A fresh category holding a value, granted to the service for an hour and indexed. */
  async function granted(grantee: HardhatEthersSigner = service): Promise<{ category: string; grantId: string; expiresAt: number }> {
    const category = `receipts.${counter++}`;
    expect((await call(gw.url, path(category), operatorToken, { method: "PUT", body: { value: { n: counter } } })).status).to.equal(201);
    const expiresAt = (await time.latest()) + 3600;
    await (await registry.grant(grantee.address, labelToId(category), labelToId(purpose), expiresAt)).wait();
    await synced(gw.gateway);
    return { category, grantId: grantIdOf(subject.address, grantee.address, labelToId(category), labelToId(purpose)), expiresAt };
  }

  /** Runs `fn` with the gateway's poll stalled: whatever is mined meanwhile, the index does not see. */
  async function whilePollHeld(fn: () => Promise<void>): Promise<void> {
    await synced(gw.gateway);
    node.hold();
    try {
      await fn();
    } finally {
      node.release();
    }
  }

  before(async function () {
    [, subject, service, , operator] = await hre.ethers.getSigners();
    gw = await startTestGateway({
      operators: [operator.address],
      // The held poll must not turn the index stale by age during the test: what is tested is the
      // window in which it still looks fresh.
      env: { MAX_INDEX_AGE_MS: "600000" },
      wrapProvider: (provider) => (node = holdablePolls(provider)).provider,
    });
    registry = DataUseRegistry__factory.connect(gw.deployment.contracts.DataUseRegistry.address, subject);
    serviceToken = await login(gw.url, service, gw.gateway.domain);
    operatorToken = await login(gw.url, operator, gw.gateway.domain);
  });

  after(async function () {
    await gw.close();
    removeDir(gw.dataDir);
  });

  it("refuses a release right after the subject hands over its revocation's receipt, before the poll sees the block", async function () {
    const { category, grantId } = await granted();
    expect((await release(category)).status).to.equal(200);
    await whilePollHeld(async () => {
      const receipt = (await (await registry.revoke(grantId)).wait())!;
      // The attack: the node has mined the revocation, the index has not read it.
      expect((await release(category)).status).to.equal(200);
      const handed = await handOver(receipt.hash);
      expect(handed.status).to.equal(200);
      expect(handed.body).to.deep.include({ txHash: receipt.hash.toLowerCase(), blockNumber: receipt.blockNumber });
      expect(handed.body.applied).to.deep.equal([{ kind: "revoked", subject: subject.address.toLowerCase(), grantee: service.address.toLowerCase(), grantId: grantId.toLowerCase() }]);
      const res = await release(category);
      expect(res.status).to.equal(403);
      expect(res.body.error.code).to.equal("GRANT_REVOKED");
    });
  });

  it("applies revokeAll at once too", async function () {
    const [, , , , , , other] = await hre.ethers.getSigners();
    const { category } = await granted(other);
    const otherToken = await login(gw.url, other, gw.gateway.domain);
    await whilePollHeld(async () => {
      const receipt = (await (await registry.revokeAll(other.address)).wait())!;
      expect((await release(category, otherToken)).status).to.equal(200);
      const handed = await handOver(receipt.hash);
      expect(handed.body.applied).to.deep.equal([{ kind: "allRevoked", subject: subject.address.toLowerCase(), grantee: other.address.toLowerCase() }]);
      expect((await release(category, otherToken)).body.error?.code).to.equal("GRANT_REVOKED");
    });
  });

  it("applies a shortened expiry and a data expiry at once, and ignores an extension", async function () {
    const shortened = await granted();
    const dataExpired = await granted();
    const extended = await granted();
    const check = async (category: string) =>
      (await call(gw.url, `/v1/grants/check?subject=${subject.address}&grantee=${service.address}&category=${category}&purpose=${encodeURIComponent(purpose)}`, serviceToken)).body;
    await whilePollHeld(async () => {
      const soon = (await time.latest()) + 60;
      const hashes = [
        (await (await registry.changeExpiry(shortened.grantId, soon)).wait())!.hash,
        (await (await registry.setDataExpiry(labelToId(dataExpired.category), soon + 1)).wait())!.hash,
        (await (await registry.changeExpiry(extended.grantId, extended.expiresAt + 3600)).wait())!.hash,
      ];
      for (const hash of hashes) expect((await handOver(hash)).status).to.equal(200);
      expect(await check(shortened.category)).to.include({ allowed: true, expiresAt: soon });
      expect(await check(dataExpired.category)).to.include({ allowed: true, expiresAt: soon + 1 });
      expect(await check(extended.category)).to.include({ allowed: true, expiresAt: extended.expiresAt });
    });
  });

  it("applies the relayer's own transactions without anyone handing them over", async function () {
    const { category, grantId } = await granted();
    await whilePollHeld(async () => {
      const deadline = (await time.latest()) + 3600;
      const message = { subject: subject.address, grantId, nonce: await registry.nonces(subject.address), deadline };
      const signature = await subject.signTypedData(await readDomain(registry), typesFor("Revoke"), message);
      const relayed = await call(gw.url, "/v1/relay", null, { method: "POST", body: { action: "revoke", subject: subject.address, grantId, deadline, signature } });
      expect(relayed.status).to.equal(202);
      await gw.gateway.receipts.followed(relayed.body.txHash);
      const res = await release(category);
      expect(res.status).to.equal(403);
      expect(res.body.error.code).to.equal("GRANT_REVOKED");
    });
  });

  it("changes nothing for a random hash, another contract's transaction or another deployment's, and says why", async function () {
    const { category } = await granted();
    const other = await deployLedger(hre);
    const foreignRegistry = DataUseRegistry__factory.connect(other.contracts.DataUseRegistry.address, subject);
    await whilePollHeld(async () => {
      const random = await handOver(hexlify(randomBytes(32)));
      expect(random.status).to.equal(404);
      expect(random.body.error.code).to.equal("TX_NOT_FOUND");
      // A revocation of the same grant, on a registry that is not this deployment's.
      const foreign = (await (await foreignRegistry.revoke(grantIdOf(subject.address, service.address, labelToId(category), labelToId(purpose)))).wait())!;
      const transfer = (await (await subject.sendTransaction({ to: service.address, value: 1n })).wait())!;
      for (const hash of [foreign.hash, transfer.hash]) {
        const res = await handOver(hash);
        expect(res.status).to.equal(422);
        expect(res.body.error.code).to.equal("NOT_A_REGISTRY_TX");
      }
      for (const bad of ["0x1234", "not a hash", 7, null]) {
        const res = await handOver(bad);
        expect(res.status).to.equal(400);
        expect(res.body.error.code).to.equal("INVALID_INPUT");
      }
      expect((await release(category)).status).to.equal(200);
    });
  });

  it("fails closed at once when the node cannot read back a handed-over transaction, and the caller sees why", async function () {
    const { category } = await granted();
    gw.setChainDown(true);
    try {
      const res = await handOver(hexlify(randomBytes(32)));
      expect(res.status).to.equal(503);
      expect(res.body.error.code).to.equal("CHAIN_UNAVAILABLE");
      const denied = await release(category);
      expect(denied.status).to.equal(503);
      expect(denied.body.error.code).to.equal("INDEX_STALE");
    } finally {
      gw.setChainDown(false);
    }
    // A poll that began while the node was down may still be failing: the one after it reads the head anew.
    await gw.gateway.indexer.syncOnce().catch(() => undefined);
    await gw.gateway.indexer.syncOnce();
    expect((await release(category)).status).to.equal(200);
  });
});
