import hre from "hardhat";
import { expect } from "chai";
import { createServer, type Server } from "node:http";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { AddressInfo } from "node:net";
import { AbiCoder, FetchRequest, hexlify, keccak256, randomBytes, toQuantity, zeroPadValue } from "ethers";
import pino from "pino";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import { DataUseRegistry__factory } from "../../typechain-types";
import { grantIdOf, loadFastKeccak, labelToId } from "../../core/ids";
import { decodeRegistryLog, registryInterface } from "../../server/chain/registryEvents";
import { Indexer } from "../../server/chain/indexer";
import { HttpRpcProvider, httpGetUrl } from "../../server/chain/rpcProvider";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { getBlockHeader, type ChainLog, type RpcProvider } from "../../server/chain/logs";
import { SqliteStore } from "../../server/store/sqlite";
import { DeletionStore } from "../../server/deletion/deletionStore";
import { deployLedger } from "../../scripts/lib/deploy";
import type { Deployment } from "../../core/deployment";
import { removeDir } from "../helpers/gateway";

const randomAddress = () => hexlify(randomBytes(20));
const randomWord = () => hexlify(randomBytes(32));

/** The in-process provider with some of its methods replaced (the rest, and their internal calls, as they were). */
function providerWith(methods: { send?: (method: string, params: unknown[]) => Promise<unknown> }): RpcProvider {
  return new Proxy(hre.ethers.provider, {
    get(target, property, receiver) {
      return (methods as Record<string | symbol, unknown>)[property] ?? Reflect.get(target, property, receiver);
    },
  }) as unknown as RpcProvider;
}

/** The block an eth_getBlockByNumber asks for, or null for any other call. */
const blockAskedFor = (method: string, params: unknown[]): number | "latest" | null =>
  method !== "eth_getBlockByNumber" ? null : params[0] === "latest" ? "latest" : Number(params[0]);

describe("chain reading", function () {
  describe("grant ids", function () {
    it("equal keccak256(abi.encode(subject, grantee, category, purpose)) for any case of input", async function () {
      await loadFastKeccak();
      for (let i = 0; i < 50; i++) {
        const [subject, grantee, category, purpose] = [randomAddress(), randomAddress(), randomWord(), randomWord()];
        const expected = keccak256(AbiCoder.defaultAbiCoder().encode(["address", "address", "bytes32", "bytes32"], [subject, grantee, category, purpose]));
        expect(grantIdOf(subject, grantee, category, purpose)).to.equal(expected);
        expect(grantIdOf(subject.toUpperCase().replace("0X", "0x"), grantee, category.toUpperCase().replace("0X", "0x"), purpose)).to.equal(expected);
      }
    });

    it("refuse what is not an address or 32 bytes", function () {
      expect(() => grantIdOf("0x1234", randomAddress(), randomWord(), randomWord())).to.throw(TypeError, "not an address");
      expect(() => grantIdOf(randomAddress(), randomAddress(), "0x" + "zz".repeat(32), randomWord())).to.throw(TypeError, "not 32 bytes");
      // Ids are remembered: inputs that spell the same characters split differently are still refused.
      const [subject, grantee, category, purpose] = [randomAddress(), randomAddress(), randomWord(), randomWord()];
      grantIdOf(subject, grantee, category, purpose);
      expect(() => grantIdOf(subject + "0x", grantee.slice(2), category, purpose)).to.throw(TypeError, "not an address");
    });
  });

  describe("registry log decoding", function () {
    const block = { blockNumber: 7, blockHash: randomWord(), transactionHash: randomWord(), index: 3, address: randomAddress() };
    const encode = (name: string, args: unknown[]): ChainLog => {
      const { data, topics } = registryInterface.encodeEventLog(registryInterface.getEvent(name)!, args);
      return { ...block, data, topics };
    };

    it("reads every registry event exactly as ethers' ABI decoder does", function () {
      const [subject, grantee, category, purpose, grantId] = [randomAddress(), randomAddress(), randomWord(), randomWord(), randomWord()];
      const cases: [string, unknown[]][] = [
        ["GrantIssued", [subject, grantee, category, purpose, 2 ** 48 - 1]],
        ["GrantExpiryChanged", [subject, grantee, grantId, 1_800_000_000, 1_900_000_000]],
        ["GrantRevoked", [subject, grantee, grantId]],
        ["AllGrantsRevoked", [subject, grantee]],
        ["DataExpirySet", [subject, category, 0, 1_700_000_000]],
      ];
      for (const [name, args] of cases) {
        const log = encode(name, args);
        const parsed = registryInterface.parseLog({ topics: [...log.topics], data: log.data })!;
        const event = decodeRegistryLog(log, 1234);
        expect(event.subject, name).to.equal((parsed.args.subject as string).toLowerCase());
        expect(event).to.include({ blockNumber: 7, blockHash: block.blockHash, txHash: block.transactionHash, logIndex: 3, blockTime: 1234 });
        switch (name) {
          case "GrantIssued":
            expect(event).to.include({ kind: "issued", grantee: grantee.toLowerCase(), category, purpose, expiresAt: 2 ** 48 - 1 });
            expect(event.grantId).to.equal(grantIdOf(subject, grantee, category, purpose));
            break;
          case "GrantExpiryChanged":
            expect(event).to.include({ kind: "changed", grantee, grantId, previousExpiresAt: 1_800_000_000, expiresAt: 1_900_000_000 });
            break;
          case "GrantRevoked":
            expect(event).to.include({ kind: "revoked", grantee, grantId });
            break;
          case "AllGrantsRevoked":
            expect(event).to.include({ kind: "allRevoked", grantee });
            break;
          case "DataExpirySet":
            expect(event).to.include({ kind: "dataExpiry", category, previousExpiresAt: 0, expiresAt: 1_700_000_000 });
            break;
        }
      }
    });

    it("rejects unknown, truncated, padded and out-of-range logs", function () {
      const good = encode("GrantRevoked", [randomAddress(), randomAddress(), randomWord()]);
      expect(() => decodeRegistryLog({ ...good, topics: [randomWord(), ...good.topics.slice(1)] }, 1)).to.throw("unknown registry log");
      expect(() => decodeRegistryLog({ ...good, topics: good.topics.slice(0, 2) }, 1)).to.throw("malformed GrantRevoked");
      expect(() => decodeRegistryLog({ ...good, data: good.data + "00".repeat(32) }, 1)).to.throw("malformed GrantRevoked");
      expect(() => decodeRegistryLog({ ...good, data: good.data.slice(0, -2) }, 1)).to.throw("malformed GrantRevoked");
      expect(() => decodeRegistryLog({ ...good, data: good.data.slice(0, -2) + "zz" }, 1)).to.throw("malformed GrantRevoked");
      expect(() => decodeRegistryLog({ ...good, topics: [good.topics[0], good.topics[1], good.topics[2].slice(0, -1) + "g"] }, 1)).to.throw("malformed GrantRevoked");
      const dirtyAddress = "0x01" + good.topics[1].slice(4);
      expect(() => decodeRegistryLog({ ...good, topics: [good.topics[0], dirtyAddress, good.topics[2]] }, 1)).to.throw("high bits");
      const issued = encode("GrantIssued", [randomAddress(), randomAddress(), randomWord(), randomWord(), 5]);
      const tooLate = issued.data.slice(0, 2 + 128) + zeroPadValue("0x01000000000000", 32).slice(2);
      expect(() => decodeRegistryLog({ ...issued, data: tooLate }, 1)).to.throw("uint48 word out of range");
    });
  });

  describe("indexer paging", function () {
    let deployment: Deployment;
    let dir: string;
    let store: SqliteStore;

    beforeEach(async function () {
      deployment = await deployLedger(hre);
      dir = mkdtempSync(join(tmpdir(), "dul-indexer-"));
      store = new SqliteStore(join(dir, "g.sqlite"));
    });

    afterEach(function () {
      store.close();
      removeDir(dir);
    });

    const registryOf = async () => DataUseRegistry__factory.connect(deployment.contracts.DataUseRegistry.address, (await hre.ethers.getSigners())[1]);

    /** Issues `perBlock` grants in each of `blocks` blocks and returns their categories. */
    async function grantBlocks(blocks: number, perBlock: number, prefix: string): Promise<string[]> {
      const registry = await registryOf();
      const [, , service] = await hre.ethers.getSigners();
      const expiresAt = (await hre.ethers.provider.getBlock("latest"))!.timestamp + 86_400;
      const categories: string[] = [];
      for (let b = 0; b < blocks; b++) {
        const batch = Array.from({ length: perBlock }, (_, i) => labelToId(`${prefix}.${b}.${i}`));
        categories.push(...batch);
        await (await registry.grantBatch(batch.map((category) => ({ grantee: service.address, category, purpose: labelToId("dpv:Marketing"), expiresAt })))).wait();
      }
      return categories.map((c) => c.toLowerCase());
    }

    function indexer(provider: RpcProvider, options: { pageBlocks: number; pageLogs?: number }): Indexer {
      const registry = deployment.contracts.DataUseRegistry;
      return new Indexer(
        provider,
        store,
        { registryAddress: registry.address, fromBlock: registry.blockNumber, deploymentId: registry.transactionHash, pollIntervalMs: 1000, maxLagBlocks: 2, maxAgeMs: 60_000, confirmations: 0, ...options },
        pino({ level: "silent" }),
      );
    }

    /** The provider, recording each eth_getLogs range it answers, and refusing (and recording) those `refuse` says no to. */
    function recordingProvider(refuse: (blocks: number) => boolean = () => false) {
      const ranges: [number, number][] = [];
      const refused: [number, number][] = [];
      const provider = providerWith({
        async send(method, params) {
          if (method === "eth_getLogs") {
            const { fromBlock, toBlock } = params[0] as { fromBlock: string; toBlock: string };
            const range: [number, number] = [Number(fromBlock), Number(toBlock)];
            if (refuse(range[1] - range[0] + 1)) {
              refused.push(range);
              throw new Error("query returned more than 10000 results");
            }
            ranges.push(range);
          }
          return hre.ethers.provider.send(method, params);
        },
      });
      return { provider, ranges, refused };
    }

    const indexedCategories = () => store.listGrants({ limit: 10_000, offset: 0 }).map((g) => g.category).sort();

    it("narrows its pages where logs are dense and widens them where they are sparse", async function () {
      const dense = await grantBlocks(80, 2, "dense");
      await mine(300);
      const sparse = await grantBlocks(1, 1, "sparse");
      const { provider, ranges } = recordingProvider();
      await indexer(provider, { pageBlocks: 1000, pageLogs: 20 }).syncOnce();

      expect(indexedCategories()).to.deep.equal([...dense, ...sparse].sort());
      // Read once each, in order, without gaps or overlaps, from the deployment block to the head.
      const head = await hre.ethers.provider.getBlockNumber();
      expect(ranges[0][0]).to.equal(deployment.contracts.DataUseRegistry.blockNumber);
      expect(ranges[ranges.length - 1][1]).to.equal(head);
      for (let i = 1; i < ranges.length; i++) expect(ranges[i][0]).to.equal(ranges[i - 1][1] + 1);
      // The first page (64 blocks) finds 2 logs a block; 20 logs a page is then 10 blocks a page,
      // and past the dense part empty pages double in width.
      const sizes = ranges.map(([from, to]) => to - from + 1);
      expect(sizes[0]).to.equal(64);
      expect(sizes[1]).to.equal(10);
      expect(Math.max(...sizes)).to.be.greaterThan(64);
      expect(store.getCursor()!.blockNumber).to.equal(head);
    });

    it("halves a range the endpoint refuses, and reads it all in smaller pages", async function () {
      const categories = await grantBlocks(7, 1, "refused");
      const { provider, ranges, refused } = recordingProvider((blocks) => blocks > 2);
      await indexer(provider, { pageBlocks: 50 }).syncOnce();
      expect(indexedCategories()).to.deep.equal([...categories].sort());
      // The first, wide page was refused; the retry asked for its first half, then halved again.
      const start = deployment.contracts.DataUseRegistry.blockNumber;
      expect(refused[0][0]).to.equal(start);
      expect(refused[0][1] - refused[0][0] + 1).to.be.greaterThan(2);
      expect(refused[1]).to.deep.equal([start, start + Math.floor((refused[0][1] - start + 1) / 2) - 1]);
      // The pages answered cover the chain from the deployment block to the head, without gaps.
      expect(ranges[0][0]).to.equal(start);
      for (let i = 1; i < ranges.length; i++) expect(ranges[i][0]).to.equal(ranges[i - 1][1] + 1);
      expect(ranges[ranges.length - 1][1]).to.equal(await hre.ethers.provider.getBlockNumber());
    });

    it("never moves its cursor past a range it could not read", async function () {
      await grantBlocks(3, 1, "unread");
      const { provider } = recordingProvider(() => true);
      await expect(indexer(provider, { pageBlocks: 50 }).syncOnce()).to.be.rejectedWith("more than 10000 results");
      expect(store.getCursor()).to.equal(null);
      expect(indexedCategories()).to.deep.equal([]);
    });

    it("notices a reorganisation between two pages and rebuilds from the chain that won", async function () {
      const snapshot = await hre.network.provider.send("evm_snapshot");
      // More pages than are read ahead, so that some are asked for only after the chain changed.
      const lost = await grantBlocks(14, 1, "lost");
      // Pages of two blocks: the second page ends at the first lost block.
      const secondPageEnd = deployment.contracts.DataUseRegistry.blockNumber + 3;
      let reorganised: string[] = [];
      let switched = false;
      // The chain changes right after the second page's last block was read: later blocks come from another chain.
      const provider = providerWith({
        async send(method, params) {
          const answer = await hre.ethers.provider.send(method, params);
          if (!switched && blockAskedFor(method, params) === secondPageEnd) {
            switched = true;
            await hre.network.provider.send("evm_revert", [snapshot]);
            reorganised = await grantBlocks(16, 1, "won");
          }
          return answer;
        },
      });
      const reader = indexer(provider, { pageBlocks: 2 });

      // Pages read ahead before the change may straddle it ("changed while it was read"); those
      // asked for after it no longer follow the pages before them.
      await expect(reader.syncOnce()).to.be.rejectedWith(/no longer follows|changed while it was read/);
      expect(switched).to.equal(true);
      await reader.syncOnce();
      expect(indexedCategories()).to.deep.equal([...reorganised].sort());
      expect(indexedCategories().filter((c) => lost.includes(c))).to.deep.equal([]);
      expect(store.getCursor()!.blockHash).to.equal((await hre.ethers.provider.getBlock("latest"))!.hash);
    });
    it("refuses logs whose blocks the chain replaced while the page was read", async function () {
      const reader = (provider: RpcProvider) => indexer(provider, { pageBlocks: 1000 });
      await reader(hre.ethers.provider).syncOnce();
      const cursor = store.getCursor()!.blockNumber;
      const snapshot = await hre.network.provider.send("evm_snapshot");
      // The next page is [cursor + 1, cursor + 2]: its first block holds a grant, its last is empty.
      const lost = await grantBlocks(1, 1, "lost-mid-page");
      await mine(1);
      let reorganised: string[] = [];
      let switched = false;
      let logsAnswered!: () => void;
      const logsRead = new Promise<void>((resolve) => (logsAnswered = resolve));
      // The chain changes after eth_getLogs answered and before the page's last block is read.
      const provider = providerWith({
        async send(method, params) {
          if (!switched && blockAskedFor(method, params) === cursor + 2) {
            switched = true;
            await logsRead;
            await hre.network.provider.send("evm_revert", [snapshot]);
            reorganised = await grantBlocks(3, 1, "won-mid-page");
          }
          const answer = await hre.ethers.provider.send(method, params);
          if (method === "eth_getLogs") logsAnswered();
          return answer;
        },
      });

      await expect(reader(provider).syncOnce()).to.be.rejectedWith("changed while it was read");
      expect(switched).to.equal(true);
      expect(store.getCursor()!.blockNumber).to.equal(cursor);
      await reader(hre.ethers.provider).syncOnce();
      expect(indexedCategories()).to.deep.equal([...reorganised].sort());
      expect(indexedCategories().filter((c) => lost.includes(c))).to.deep.equal([]);
    });
  });

  describe("block headers", function () {
    it("are read raw and checked: a missing, malformed or other block is refused", async function () {
      const head = await hre.ethers.provider.getBlock("latest");
      expect(await getBlockHeader(hre.ethers.provider, "latest")).to.deep.equal({ number: head!.number, hash: head!.hash, parentHash: head!.parentHash, timestamp: head!.timestamp, logsBloom: (await hre.ethers.provider.send("eth_getBlockByNumber", [toQuantity(head!.number), false])).logsBloom });
      const answering = (block: unknown) => providerWith({ send: async (method, params) => (blockAskedFor(method, params) !== null ? block : hre.ethers.provider.send(method, params)) });
      const good = { number: "0x5", hash: randomWord(), parentHash: randomWord(), timestamp: "0x64" };
      expect(await getBlockHeader(answering(good), 5)).to.include({ number: 5, timestamp: 100 });
      await expect(getBlockHeader(answering(null), 5)).to.be.rejectedWith("block 5 is not available");
      await expect(getBlockHeader(answering({ ...good, hash: "0x1234" }), 5)).to.be.rejectedWith("malformed");
      await expect(getBlockHeader(answering({ ...good, timestamp: 100 }), 5)).to.be.rejectedWith("malformed");
      await expect(getBlockHeader(answering(good), 6)).to.be.rejectedWith("block 6 came back malformed");
    });
  });

  describe("index rollback", function () {
    it("rebuilds a cutoff and a data expiry that two undone events touched from the event that stays", function () {
      const dir = mkdtempSync(join(tmpdir(), "dul-rollback-"));
      const store = new SqliteStore(join(dir, "g.sqlite"));
      try {
        const [subject, grantee, category] = [randomAddress().toLowerCase(), randomAddress().toLowerCase(), randomWord()];
        const event = (kind: "allRevoked" | "dataExpiry", blockNumber: number) => ({
          kind, blockNumber, logIndex: kind === "allRevoked" ? 0 : 1, blockHash: randomWord(), blockTime: 1000 + blockNumber, txHash: randomWord(), subject,
          grantee: kind === "allRevoked" ? grantee : null, grantId: null, category: kind === "dataExpiry" ? category : null, purpose: null,
          expiresAt: kind === "dataExpiry" ? 5000 + blockNumber : null, previousExpiresAt: kind === "dataExpiry" ? 0 : null,
        });
        const page = (blockNumber: number) => ({
          events: [event("allRevoked", blockNumber), event("dataExpiry", blockNumber)],
          cursor: { blockNumber, blockHash: randomWord() },
          blockHashes: [],
        });
        store.applyPages([page(5), page(20), page(21)]);
        expect(store.getCutoff(subject, grantee)!.blockNumber).to.equal(21);

        store.rollbackTo(10);
        expect(store.getCutoff(subject, grantee)).to.include({ blockNumber: 5, revokedAt: 1005 });
        expect(store.getDataExpiry(subject, category)).to.include({ blockNumber: 5, expiresAt: 5005 });
      } finally {
        store.close();
        removeDir(dir);
      }
    });
    it("sends no reorged order for an issuance that came back in the chain that won, once it is ended and issued anew", function () {
      const dir = mkdtempSync(join(tmpdir(), "dul-rollback-"));
      const store = new SqliteStore(join(dir, "g.sqlite"));
      try {
        const deletions = new DeletionStore(store.db);
        const [subject, grantee, category, purpose, grantId] = [randomAddress().toLowerCase(), randomAddress().toLowerCase(), randomWord(), randomWord(), randomWord()];
        const event = (kind: "issued" | "revoked", blockNumber: number, blockTime: number) => ({
          kind, blockNumber, logIndex: 0, blockHash: randomWord(), blockTime, txHash: randomWord(), subject, grantee, grantId, category,
          purpose, expiresAt: kind === "issued" ? 9000 : null, previousExpiresAt: null,
        });
        const page = (e: ReturnType<typeof event>) => ({ events: [e], cursor: { blockNumber: e.blockNumber, blockHash: randomWord() }, blockHashes: [] });
        store.applyPages([page(event("issued", 10, 1010))]);
        store.rollbackTo(9);
        expect(deletions.vanishedGrants(10).map((g) => g.grantedAt)).to.deep.equal([1010]);
        // The same issuance, re-mined at the same time: nothing vanished after all.
        store.applyPages([page(event("issued", 10, 1010))]);
        expect(deletions.vanishedGrants(10)).to.deep.equal([]);
        // It ends (its order goes out), and the subject issues the grant anew.
        store.applyPages([page(event("revoked", 11, 1011))]);
        for (const ended of deletions.endedGrants(1011, 10)) deletions.createOrder(ended, 1011);
        store.applyPages([page(event("issued", 12, 1012))]);
        expect(deletions.vanishedGrants(10)).to.deep.equal([]);
      } finally {
        store.close();
        removeDir(dir);
      }
    });
  });

  describe("HTTP JSON-RPC provider", function () {
    let server: Server;
    let url: string;
    let respond: (body: { id: number; method: string }, res: import("node:http").ServerResponse) => void;

    before(async function () {
      server = createServer((req, res) => {
        let body = "";
        req.on("data", (chunk) => (body += chunk));
        req.on("end", () => respond(JSON.parse(body), res));
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    after(function () {
      server.close();
    });

    const provider = () => new HttpRpcProvider(url, 31337, { staticNetwork: true });

    it("reads a large answer sent in many small chunks, whole", async function () {
      const logs = Array.from({ length: 5000 }, (_, i) => ({ blockNumber: `0x${i.toString(16)}`, data: randomWord(), topics: [randomWord(), randomWord()], note: "é✓" }));
      respond = (request, res) => {
        const text = Buffer.from(JSON.stringify({ jsonrpc: "2.0", id: request.id, result: logs }));
        res.writeHead(200, { "content-type": "application/json" });
        for (let at = 0; at < text.length; at += 4096) res.write(text.subarray(at, at + 4096));
        res.end();
      };
      const rpc = provider();
      try {
        // Compared as text: chai's deep equality takes seconds over 5,000 objects.
        expect(JSON.stringify(await rpc.send("eth_getLogs", [{}]))).to.equal(JSON.stringify(logs));
      } finally {
        rpc.destroy();
      }
    });

    it("reads a gzip-encoded answer", async function () {
      respond = (request, res) => {
        res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
        res.end(gzipSync(JSON.stringify({ jsonrpc: "2.0", id: request.id, result: "0x2a" })));
      };
      const rpc = provider();
      try {
        expect(await rpc.send("eth_blockNumber", [])).to.equal("0x2a");
      } finally {
        rpc.destroy();
      }
    });

    it("asks the node every time: a new head is seen at once, not after a cache expires", async function () {
      let head = 100;
      respond = (request, res) => void res.writeHead(200).end(JSON.stringify({ jsonrpc: "2.0", id: request.id, result: `0x${(head++).toString(16)}` }));
      const rpc = provider();
      try {
        const first = await rpc.getBlockNumber();
        expect(await rpc.getBlockNumber()).to.equal(first + 1);
      } finally {
        rpc.destroy();
      }
    });

    it("sends an RPC URL's credentials as Basic authorization", async function () {
      let authorization: string | undefined;
      const inner = respond;
      respond = (request, res) => {
        authorization = res.req.headers.authorization;
        res.writeHead(200).end(JSON.stringify({ jsonrpc: "2.0", id: request.id, result: "0x1" }));
      };
      const rpc = new HttpRpcProvider(url.replace("http://", "http://alice:p%40ss@"), 31337, { staticNetwork: true });
      try {
        expect(await rpc.send("eth_blockNumber", [])).to.equal("0x1");
        expect(authorization).to.equal(`Basic ${Buffer.from("alice:p@ss").toString("base64")}`);
      } finally {
        rpc.destroy();
        respond = inner;
      }
    });

    it("keeps one connection open across requests, and sends again on a new one after the node closes it", async function () {
      const connections: string[] = [];
      const counted = (socket: import("node:net").Socket) => connections.push(`${socket.remotePort}`);
      server.on("connection", counted);
      respond = (request, res) => void res.writeHead(200).end(JSON.stringify({ jsonrpc: "2.0", id: request.id, result: "0x1" }));
      const rpc = provider();
      try {
        for (let i = 0; i < 5; i++) expect(await rpc.send("eth_blockNumber", [])).to.equal("0x1");
        expect(connections).to.have.length(1);
        respond = (request, res) => void res.writeHead(200, { connection: "close" }).end(JSON.stringify({ jsonrpc: "2.0", id: request.id, result: "0x2" }));
        expect(await rpc.send("eth_blockNumber", [])).to.equal("0x2");
        expect(await rpc.send("eth_blockNumber", [])).to.equal("0x2");
        expect(connections).to.have.length(2);
      } finally {
        rpc.destroy();
        server.off("connection", counted);
      }
    });

    it("sends a read once more on a new connection when a kept-alive one is dropped, never a transaction", async function () {
      const dropped: string[] = [];
      let dropNext = false;
      respond = (request, res) => {
        if (dropNext || request.method === "eth_sendRawTransaction") {
          dropNext = false;
          dropped.push(request.method);
          res.socket!.destroy();
          return;
        }
        res.writeHead(200).end(JSON.stringify({ jsonrpc: "2.0", id: request.id, result: "0x3" }));
      };
      const rpc = provider();
      try {
        expect(await rpc.send("eth_blockNumber", [])).to.equal("0x3");
        dropNext = true;
        expect(await rpc.send("eth_blockNumber", [])).to.equal("0x3");
        // The node may have taken the transaction before the connection dropped.
        await expect(rpc.send("eth_sendRawTransaction", ["0x00"])).to.be.rejected;
        expect(dropped).to.deep.equal(["eth_blockNumber", "eth_sendRawTransaction"]);
      } finally {
        rpc.destroy();
      }
    });

    it("gives up on a node that does not answer in time, with ethers' TIMEOUT, and does not follow redirects", async function () {
      const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
      let received = 0;
      const counted = () => (received += 1);
      server.on("request", counted);
      try {
        respond = (request, res) => void res.writeHead(200).end(JSON.stringify({ jsonrpc: "2.0", id: request.id, result: "0x1" }));
        const first = new FetchRequest(url);
        first.body = "{}";
        expect((await httpGetUrl(agents)(first)).statusCode).to.equal(200);
        // On the kept-alive connection: given up on, and not sent again on a new one.
        respond = () => undefined;
        const slow = new FetchRequest(url);
        slow.body = "{}";
        slow.timeout = 100;
        await expect(httpGetUrl(agents)(slow)).to.be.rejected.and.eventually.have.property("code", "TIMEOUT");
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(received).to.equal(2);

        respond = (_request, res) => void res.writeHead(302, { location: "http://127.0.0.1:1/elsewhere" }).end();
        const moved = new FetchRequest(url);
        moved.body = "{}";
        const answer = await httpGetUrl(agents)(moved);
        expect(answer.statusCode).to.equal(302);
        expect(answer.headers.location).to.equal("http://127.0.0.1:1/elsewhere");
      } finally {
        server.off("request", counted);
        agents.http.destroy();
        agents.https.destroy();
      }
    });

    it("fails on an answer that is not JSON or not UTF-8, an HTTP error and a JSON-RPC error", async function () {
      const rpc = provider();
      try {
        respond = (_request, res) => void res.writeHead(200).end("<html>gateway timeout</html>");
        await expect(rpc.send("eth_blockNumber", [])).to.be.rejectedWith("not JSON");
        respond = (request, res) => void res.writeHead(200).end(Buffer.concat([Buffer.from(`{"jsonrpc":"2.0","id":${request.id},"result":"`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]));
        await expect(rpc.send("eth_blockNumber", [])).to.be.rejectedWith("not JSON");
        respond = (_request, res) => void res.writeHead(500).end("down");
        await expect(rpc.send("eth_blockNumber", [])).to.be.rejected;
        respond = (request, res) => void res.writeHead(200).end(JSON.stringify({ jsonrpc: "2.0", id: request.id, error: { code: -32005, message: "query returned more than 10000 results" } }));
        await expect(rpc.send("eth_getLogs", [{}])).to.be.rejectedWith("more than 10000 results");
      } finally {
        rpc.destroy();
      }
    });
  });
});
