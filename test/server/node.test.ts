import hre from "hardhat";
import { expect } from "chai";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keccak256, toQuantity } from "ethers";
import pino from "pino";
import { mine, time } from "@nomicfoundation/hardhat-network-helpers";
import { DataUseRegistry__factory } from "../../typechain-types";
import { grantIdOf, labelToId } from "../../core/ids";
import { decide } from "../../server/grants/decision";
import { Indexer, type IndexerOptions } from "../../server/chain/indexer";
import type { RpcProvider } from "../../server/chain/logs";
import { SqliteStore } from "../../server/store/sqlite";
import { DeletionStore } from "../../server/deletion/deletionStore";
import { deployLedger } from "../../scripts/lib/deploy";
import type { Deployment } from "../../core/deployment";
import { call, removeDir, startTestGateway } from "../helpers/gateway";

/** The in-process provider with `send` replaced (the rest as it was). */
export function providerWith(send: (method: string, params: unknown[]) => Promise<unknown>): RpcProvider {
  return new Proxy(hre.ethers.provider, {
    get(target, property, receiver) {
      return property === "send" ? send : Reflect.get(target, property, receiver);
    },
  }) as unknown as RpcProvider;
}

/** A node whose `latest` is block `frozen()` whenever that is not null: it stopped, or lies, about the head. */
export function frozenHeadProvider(frozen: () => number | null): RpcProvider {
  return providerWith((method, params) => {
    const at = frozen();
    if (method === "eth_getBlockByNumber" && params[0] === "latest" && at !== null) return hre.ethers.provider.send(method, [toQuantity(at), ...params.slice(1)]);
    return hre.ethers.provider.send(method, params);
  });
}

describe("a stalled or lying node", function () {
  let deployment: Deployment;
  let dir: string;
  let store: SqliteStore;

  before(async function () {
    deployment = await deployLedger(hre);
  });

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), "dul-node-"));
    store = new SqliteStore(join(dir, "g.sqlite"));
  });

  afterEach(function () {
    store.close();
    removeDir(dir);
  });

  function indexer(provider: RpcProvider, options: Partial<IndexerOptions> = {}, log = pino({ level: "silent" })): Indexer {
    const registry = deployment.contracts.DataUseRegistry;
    return new Indexer(
      provider,
      store,
      {
        registryAddress: registry.address,
        fromBlock: registry.blockNumber,
        deploymentId: registry.transactionHash,
        pageBlocks: 1000,
        pollIntervalMs: 1000,
        maxLagBlocks: 2,
        maxAgeMs: 3000,
        maxHeadAgeSeconds: 30,
        confirmations: 0,
        ...options,
      },
      log,
    );
  }

  describe("head age", function () {
    it("refuses to vouch for a node that keeps answering the same head once that head is older than MAX_HEAD_AGE_SECONDS", async function () {
      const head = (await hre.ethers.provider.getBlock("latest"))!;
      let clock = head.timestamp * 1000;
      const reader = indexer(frozenHeadProvider(() => head.number), { now: () => clock, maxHeadAgeSeconds: 30 });
      // The node goes on answering, always the same head, while the chain moves on without it.
      await mine(3);
      await reader.syncOnce();
      expect(reader.freshView().headNumber).to.equal(head.number);
      clock = (head.timestamp + 30) * 1000;
      await reader.syncOnce();
      expect(reader.freshView().headNumber).to.equal(head.number);
      clock = (head.timestamp + 31) * 1000;
      // Every read succeeds (the last one just now), yet the head it shows is 31 s old.
      await reader.syncOnce();
      expect(() => reader.freshView()).to.throw(/chain head \(block \d+\) is 31\.0 s old/).with.property("code", "INDEX_STALE");
    });

    it("vouches again once the head advances", async function () {
      let frozen: number | null = (await hre.ethers.provider.getBlockNumber());
      const frozenTime = (await hre.ethers.provider.getBlock(frozen))!.timestamp;
      let clock = (frozenTime + 60) * 1000;
      const reader = indexer(frozenHeadProvider(() => frozen), { now: () => clock });
      await reader.syncOnce();
      expect(() => reader.freshView()).to.throw(/s old/);
      frozen = null;
      await mine(1);
      clock = (await hre.ethers.provider.getBlock("latest"))!.timestamp * 1000;
      await reader.syncOnce();
      expect(reader.freshView().headNumber).to.equal(await hre.ethers.provider.getBlockNumber());
    });
  });

  describe("second endpoints (RPC_URLS)", function () {
    it("fails closed when a second endpoint's head is further behind than RPC_MAX_HEAD_SPREAD, naming it", async function () {
      await mine(5);
      const head = await hre.ethers.provider.getBlockNumber();
      const lagging = frozenHeadProvider(() => head - 4);
      const reader = indexer(hre.ethers.provider, { primaryUrl: "http://primary/", peers: [{ url: "http://second/", provider: lagging }], maxHeadSpread: 3 });
      await reader.syncOnce();
      expect(() => reader.freshView()).to.throw("endpoint http://second/ is at block " + (head - 4) + ", 4 blocks behind http://primary/").with.property("code", "INDEX_STALE");
      expect(reader.endpoints()).to.deep.equal([
        { url: "http://primary/", head },
        { url: "http://second/", head: head - 4 },
      ]);
    });

    it("fails closed when the primary endpoint is the one behind", async function () {
      await mine(5);
      const head = await hre.ethers.provider.getBlockNumber();
      const reader = indexer(frozenHeadProvider(() => head - 5), { primaryUrl: "http://primary/", peers: [{ url: "http://second/", provider: hre.ethers.provider }], maxHeadSpread: 3 });
      await reader.syncOnce();
      expect(() => reader.freshView()).to.throw(/endpoint http:\/\/primary\/ is at block \d+, 5 blocks behind http:\/\/second\//);
    });

    it("fails closed when a second endpoint does not answer", async function () {
      const silent = providerWith(async () => {
        throw new Error("connect ECONNREFUSED 127.0.0.1:9545");
      });
      const reader = indexer(hre.ethers.provider, { primaryUrl: "http://primary/", peers: [{ url: "http://second/", provider: silent }], maxHeadSpread: 3 });
      await reader.syncOnce();
      expect(() => reader.freshView()).to.throw(/endpoint http:\/\/second\/ did not answer its head/);
    });

    it("serves while the endpoints agree within the spread", async function () {
      await mine(5);
      const head = await hre.ethers.provider.getBlockNumber();
      const reader = indexer(hre.ethers.provider, {
        primaryUrl: "http://primary/",
        peers: [
          { url: "http://second/", provider: frozenHeadProvider(() => head - 3) },
          { url: "http://third/", provider: hre.ethers.provider },
        ],
        maxHeadSpread: 3,
      });
      await reader.syncOnce();
      expect(reader.freshView().headNumber).to.equal(head);
    });

    it("fails closed when the primary lies consistently in eth_getLogs and the block headers about a revocation, at the same height as a second endpoint", async function () {
      const [, subject, service] = await hre.ethers.getSigners();
      const registry = DataUseRegistry__factory.connect(deployment.contracts.DataUseRegistry.address, subject);
      const category = labelToId(`forked.${Date.now()}.${Math.random()}`);
      await (await registry.grant(service.address, category, labelToId("dpv:Marketing"), (await time.latest()) + 3600)).wait();
      const grantId = grantIdOf(subject.address, service.address, category, labelToId("dpv:Marketing")).toLowerCase();
      let forkFrom = Number.MAX_SAFE_INTEGER;
      // From `forkFrom` on, the primary shows a chain of its own: no registry logs, empty blooms, its own hashes.
      const fakeHash = (n: number) => keccak256(Buffer.from(`fork ${n}`));
      const liar = providerWith(async (method, params) => {
        if (method === "eth_getLogs" && "blockHash" in (params[0] as object)) {
          const hash = (params[0] as { blockHash: string }).blockHash;
          if (hash.startsWith("0x") && Array.from({ length: 8 }, (_, i) => fakeHash(forkFrom + i)).includes(hash)) return [];
        }
        const answer = await hre.ethers.provider.send(method, params);
        if (method === "eth_getLogs") return (answer as { blockNumber: string }[]).filter((log) => Number(log.blockNumber) < forkFrom);
        if (method !== "eth_getBlockByNumber") return answer;
        const block = answer as { number: string; parentHash: string };
        const n = Number(block.number);
        if (n < forkFrom) return answer;
        return { ...block, hash: fakeHash(n), parentHash: n > forkFrom ? fakeHash(n - 1) : block.parentHash, logsBloom: "0x" + "0".repeat(512) };
      });
      const reader = indexer(liar, { primaryUrl: "http://primary/", peers: [{ url: "http://second/", provider: hre.ethers.provider }], maxHeadSpread: 3 });
      await reader.syncOnce();
      expect(store.getGrant(subject.address.toLowerCase(), grantId)!.expiresAt).to.not.equal(0);
      forkFrom = (await (await registry.revoke(grantId)).wait())!.blockNumber;
      await mine(1);
      await reader.syncOnce();
      // The lie itself cannot be seen from the primary alone: its index misses the revocation.
      expect(store.getGrant(subject.address.toLowerCase(), grantId)!.expiresAt).to.not.equal(0);
      expect(() => reader.freshView()).to.throw(/different chains/).with.property("code", "INDEX_STALE");
    });

    it("says in /readyz which endpoint is behind", async function () {
      await mine(5);
      const head = await hre.ethers.provider.getBlockNumber();
      const gw = await startTestGateway({ deployment, peers: [{ url: "http://second/", provider: frozenHeadProvider(() => head - 10) }] });
      try {
        const res = await call(gw.url, "/readyz", null);
        expect(res.status).to.equal(503);
        expect(res.body.reason).to.match(/endpoint http:\/\/second\/ is at block \d+, \d+ blocks behind/);
        expect(res.body.endpoints[1]).to.deep.equal({ url: "http://second/", head: head - 10 });
      } finally {
        await gw.close();
        removeDir(gw.dataDir);
      }
    });
  });

  describe("a head behind the index's cursor", function () {
    it("undoes nothing and orders no deletion when a lagging backend answers a head below blocks the index read", async function () {
      const [, subject, service] = await hre.ethers.getSigners();
      const registry = DataUseRegistry__factory.connect(deployment.contracts.DataUseRegistry.address, subject);
      const category = labelToId(`lagging.${Date.now()}.${Math.random()}`);
      const issued = (await (await registry.grant(service.address, category, labelToId("dpv:Marketing"), (await time.latest()) + 3600)).wait())!;
      const grantId = grantIdOf(subject.address, service.address, category, labelToId("dpv:Marketing")).toLowerCase();
      let lagging: number | null = null;
      const reader = indexer(frozenHeadProvider(() => lagging));
      await reader.syncOnce();
      expect(store.getCursor()!.blockNumber).to.equal(issued.blockNumber);
      // The load balancer's next answer comes from a backend one block behind: the chain did not change.
      lagging = issued.blockNumber - 1;
      await expect(reader.syncOnce()).to.be.rejectedWith(/behind block \d+, which the index read on the same chain/);
      expect(store.getGrant(subject.address.toLowerCase(), grantId)).to.not.equal(null);
      expect(new DeletionStore(store.db).vanishedGrants(10)).to.deep.equal([]);
    });
  });

  describe("confirmations (CONFIRMATIONS > 0)", function () {
    const confirmations = 3;
    const purpose = labelToId("dpv:ServiceProvision");
    let counter = 0;

    /** A grant of a fresh category from subject #1 to service #2, confirmed; its query and expiry. */
    async function confirmedGrant(seconds: number) {
      const [, subject, service] = await hre.ethers.getSigners();
      const registry = DataUseRegistry__factory.connect(deployment.contracts.DataUseRegistry.address, subject);
      const category = labelToId(`confirm.${counter++}.${Date.now()}`).toLowerCase();
      const expiresAt = (await time.latest()) + seconds;
      await (await registry.grant(service.address, category, purpose, expiresAt)).wait();
      await mine(confirmations);
      const [s, g] = [subject.address.toLowerCase(), service.address.toLowerCase()];
      const query = { subject: s, grantee: g, category, purpose: purpose.toLowerCase(), grantId: grantIdOf(s, g, category, purpose).toLowerCase() };
      return { registry, query, expiresAt };
    }

    async function decideNow(query: Parameters<typeof decide>[1]) {
      const reader = indexer(hre.ethers.provider, { confirmations, maxHeadAgeSeconds: 86_400 * 365 });
      await reader.syncOnce();
      const view = reader.freshView();
      // The wall clock is taken as the head's: the chain's time is what the test moves.
      return decide(store, query, view, confirmations, view.headTime * 1000);
    }

    it("refuses a release after the confirmed expiry when the grant was extended twice within the confirmation window", async function () {
      const { registry, query, expiresAt } = await confirmedGrant(600);
      // Two extensions, each in its own block; neither has `confirmations` blocks on top yet.
      await (await registry.changeExpiry(query.grantId, expiresAt + 1000)).wait();
      await (await registry.changeExpiry(query.grantId, expiresAt + 2000)).wait();
      await time.increaseTo(expiresAt);
      const decision = await decideNow(query);
      expect(decision.headBlock - confirmations).to.be.lessThan(decision.grant!.blockNumber - 1);
      expect(decision).to.include({ allowed: false, reason: "GRANT_EXPIRED", expiresAt });
    });

    it("counts the extensions once they are confirmed", async function () {
      const { registry, query, expiresAt } = await confirmedGrant(600);
      await (await registry.changeExpiry(query.grantId, expiresAt + 1000)).wait();
      await (await registry.changeExpiry(query.grantId, expiresAt + 2000)).wait();
      await mine(confirmations);
      await time.increaseTo(expiresAt);
      expect(await decideNow(query)).to.include({ allowed: true, expiresAt: expiresAt + 2000 });
    });

    it("refuses a release after the confirmed data expiry when it was cleared and set later within the confirmation window (D, 0, D2)", async function () {
      const { registry, query } = await confirmedGrant(86_400);
      const dataExpiresAt = (await time.latest()) + 600;
      await (await registry.setDataExpiry(query.category, dataExpiresAt)).wait();
      await mine(confirmations);
      // Cleared, then set later: both unconfirmed.
      await (await registry.setDataExpiry(query.category, 0)).wait();
      await (await registry.setDataExpiry(query.category, dataExpiresAt + 5000)).wait();
      await time.increaseTo(dataExpiresAt);
      expect(await decideNow(query)).to.include({ allowed: false, reason: "DATA_EXPIRED", expiresAt: dataExpiresAt });
    });

    it("counts a shortening at once, confirmed or not", async function () {
      const { registry, query, expiresAt } = await confirmedGrant(600);
      await (await registry.changeExpiry(query.grantId, expiresAt + 1000)).wait();
      await (await registry.changeExpiry(query.grantId, expiresAt - 300)).wait();
      await time.increaseTo(expiresAt - 300);
      expect(await decideNow(query)).to.include({ allowed: false, reason: "GRANT_EXPIRED", expiresAt: expiresAt - 300 });
    });
  });

  describe("logs left out of an eth_getLogs answer", function () {
    /** Warnings the indexer logs, parsed. */
    function capturedLog() {
      const lines: { msg: string; block?: number; rereads?: number }[] = [];
      return { lines, log: pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line)) }) };
    }

    /** A revocation mined in its own block, on a grant the store has indexed; the revocation's block. */
    async function revokedAfterIndexing(reader: () => Indexer) {
      const [, subject, service] = await hre.ethers.getSigners();
      const registry = DataUseRegistry__factory.connect(deployment.contracts.DataUseRegistry.address, subject);
      const category = labelToId(`dropped.${Date.now()}.${Math.random()}`);
      await (await registry.grant(service.address, category, labelToId("dpv:Marketing"), (await time.latest()) + 3600)).wait();
      await reader().syncOnce();
      const grantId = grantIdOf(subject.address, service.address, category, labelToId("dpv:Marketing")).toLowerCase();
      const revocation = (await (await registry.revoke(grantId)).wait())!;
      return { subject: subject.address.toLowerCase(), grantId, block: revocation.blockNumber };
    }

    /** A backend behind a load balancer that lags: its range reads leave out block `dropped()`'s logs; `byHash` says how it answers reads by block hash. */
    function droppingProvider(dropped: () => number | null, byHash: "answers" | "fails" = "answers") {
      let hashReads = 0;
      const provider = providerWith(async (method, params) => {
        const answer = await hre.ethers.provider.send(method, params);
        if (method !== "eth_getLogs") return answer;
        if ("blockHash" in (params[0] as object)) {
          hashReads += 1;
          if (byHash === "fails") throw new Error("unknown block");
          return answer;
        }
        return (answer as { blockNumber: string }[]).filter((log) => Number(log.blockNumber) !== dropped());
      });
      return { provider, hashReads: () => hashReads };
    }

    it("indexes a revocation that eth_getLogs left out of its answer for the newest block", async function () {
      let dropped: number | null = null;
      const node = droppingProvider(() => dropped);
      const { lines, log } = capturedLog();
      const reader = indexer(node.provider, {}, log);
      const { subject, grantId, block } = await revokedAfterIndexing(() => reader);
      dropped = block;
      await reader.syncOnce();
      expect(store.getCursor()!.blockNumber).to.be.at.least(block);
      expect(store.getGrant(subject, grantId)!.expiresAt).to.equal(0);
      expect(lines.some((l) => /left out a block's registry events/.test(l.msg) && l.block === block)).to.equal(true);
    });

    it("does not move past a block whose bloom names our events while the node cannot read it by hash", async function () {
      let dropped: number | null = null;
      const node = droppingProvider(() => dropped, "fails");
      const reader = indexer(node.provider);
      const { subject, grantId, block } = await revokedAfterIndexing(() => reader);
      const before = store.getCursor()!.blockNumber;
      dropped = block;
      await expect(reader.syncOnce()).to.be.rejectedWith("unknown block");
      expect(store.getCursor()!.blockNumber).to.be.lessThan(block).and.at.least(before);
      expect(store.getGrant(subject, grantId)!.expiresAt).to.not.equal(0);
    });

    it("takes a block as empty after a bounded number of re-reads when its bloom is a false positive, and says so", async function () {
      await mine(1);
      const empty = await hre.ethers.provider.getBlockNumber();
      // The bloom of an empty block, with the bits of the registry's address and of GrantRevoked's topic set.
      const bits = (item: string) => [0, 1, 2].map((i) => parseInt(keccak256(item).slice(2 + 4 * i, 6 + 4 * i), 16) & 2047);
      const bloom = Buffer.alloc(256);
      for (const bit of [...bits(deployment.contracts.DataUseRegistry.address.toLowerCase()), ...bits(keccak256(Buffer.from("GrantRevoked(address,address,bytes32)")))]) {
        bloom[255 - (bit >> 3)] |= 1 << (bit & 7);
      }
      let hashReads = 0;
      const provider = providerWith(async (method, params) => {
        const answer = (await hre.ethers.provider.send(method, params)) as { number?: string; logsBloom?: string };
        if (method === "eth_getBlockByNumber" && Number(answer?.number) === empty) return { ...answer, logsBloom: "0x" + bloom.toString("hex") };
        if (method === "eth_getLogs" && "blockHash" in (params[0] as object)) hashReads += 1;
        return answer;
      });
      const { lines, log } = capturedLog();
      const reader = indexer(provider, {}, log);
      await reader.syncOnce();
      expect(store.getCursor()!.blockNumber).to.be.at.least(empty);
      expect(hashReads).to.equal(3);
      expect(lines.filter((l) => /bloom false positive/.test(l.msg)).map((l) => [l.block, l.rereads])).to.deep.equal([[empty, 3]]);
    });
  });
});
