import hre from "hardhat";
import { expect } from "chai";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { time, mine } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { DataUseRegistry__factory, type DataUseRegistry } from "../../typechain-types";
import { labelToId, grantIdOf } from "../../core/ids";
import { readDomain, typesFor } from "../../core/eip712";
import { ERROR_CODES } from "../../core/errorCodes";
import { parseEnv, ConfigError } from "../../server/config/env";
import { SqliteStore } from "../../server/store/sqlite";
import { TokenSigner } from "../../server/auth/tokens";
import { createApp } from "../../server/http/app";
import { Keyring } from "../../server/crypto/keyring";
import { createHmac } from "node:crypto";
import { call, login, removeDir, startTestGateway, synced, type TestGateway, chainNow } from "../helpers/gateway";

describe("gateway (step 2): releases only under a grant valid at that instant", function () {
  let gw: TestGateway;
  let registry: DataUseRegistry;
  let subject: HardhatEthersSigner;
  let service: HardhatEthersSigner;
  let otherService: HardhatEthersSigner;
  let operator: HardhatEthersSigner;
  let serviceToken: string;
  let otherToken: string;
  let operatorToken: string;
  let subjectToken: string;
  let counter = 0;

  const purpose = "dpv:ServiceProvision";
  const subjectPath = (category: string) => `/v1/subjects/${subject.address.toLowerCase()}/data/${category}`;

  /** A fresh category holding a value, so that tests do not share grants. */
  async function freshCategory(value: unknown = { email: `user${counter}@example.org` }): Promise<string> {
    counter += 1;
    const category = `contact.email.${counter}`;
    const res = await call(gw.url, subjectPath(category), operatorToken, { method: "PUT", body: { value } });
    expect(res.status).to.equal(201);
    return category;
  }

  async function grant(category: string, seconds = 3600, grantee = service, p = purpose): Promise<number> {
    const expiresAt = (await chainNow()) + seconds;
    await (await registry.connect(subject).grant(grantee.address, labelToId(category), labelToId(p), expiresAt)).wait();
    await synced(gw.gateway);
    return expiresAt;
  }

  const release = (category: string, token = serviceToken, p = purpose) =>
    call(gw.url, `${subjectPath(category)}?purpose=${encodeURIComponent(p)}`, token);

  before(async function () {
    [, subject, service, otherService, operator] = await hre.ethers.getSigners();
    gw = await startTestGateway({ operators: [operator.address] });
    registry = DataUseRegistry__factory.connect(gw.deployment.contracts.DataUseRegistry.address, subject);
    serviceToken = await login(gw.url, service, gw.gateway.domain);
    otherToken = await login(gw.url, otherService, gw.gateway.domain);
    operatorToken = await login(gw.url, operator, gw.gateway.domain);
    subjectToken = await login(gw.url, subject, gw.gateway.domain);
  });

  after(async function () {
    await gw.close();
    removeDir(gw.dataDir);
  });

  it("releases the value under a valid grant, with the grant's block and an audit index", async function () {
    const category = await freshCategory({ email: "alice@example.org", verified: true });
    const expiresAt = await grant(category);
    const res = await release(category);
    expect(res.status).to.equal(200);
    expect(res.body.value).to.deep.equal({ email: "alice@example.org", verified: true });
    expect(res.body).to.include({ subject: subject.address.toLowerCase(), category, purpose });
    expect(res.body.grant.expiresAt).to.equal(expiresAt);
    expect(res.body.grant.blockNumber).to.equal(await hre.ethers.provider.getBlockNumber());
    expect(res.body.auditIndex).to.be.a("number");
    const logged = gw.gateway.store.readLog(res.body.auditIndex, res.body.auditIndex + 1);
    expect(logged[0]).to.include({ kind: "release", grantee: service.address.toLowerCase(), category, purpose });
    expect(JSON.stringify(logged[0])).not.to.contain("alice@example.org");
  });

  it("releases what is stored now: a replaced value, then nothing once deleted; never cacheable", async function () {
    const category = await freshCategory({ v: 1 });
    await grant(category);
    const first = await fetch(`${gw.url}${subjectPath(category)}?purpose=${encodeURIComponent(purpose)}`, { headers: { authorization: `Bearer ${serviceToken}` } });
    expect(first.status).to.equal(200);
    expect(((await first.json()) as any).value).to.deep.equal({ v: 1 });
    expect(first.headers.get("cache-control")).to.equal("no-store");
    expect(first.headers.get("etag")).to.equal(null);
    // Each release logs the keyed hash of the value it released, the value stored at that moment.
    const payloadKey = Keyring.derive(Buffer.alloc(32, 7), "payload-hash");
    const hashOf = (value: unknown) =>
      "0x" + createHmac("sha256", payloadKey).update(`${subject.address.toLowerCase()}\n${category}\n`).update(JSON.stringify(value)).digest("hex");
    const loggedHash = (auditIndex: number) => gw.gateway.store.readLog(auditIndex, auditIndex + 1)[0].payloadHash;
    expect(loggedHash((await release(category)).body.auditIndex)).to.equal(hashOf({ v: 1 }));
    expect((await call(gw.url, subjectPath(category), operatorToken, { method: "PUT", body: { value: { v: 2 } } })).status).to.equal(200);
    const second = await release(category);
    expect(second.body.value).to.deep.equal({ v: 2 });
    expect(loggedHash(second.body.auditIndex)).to.equal(hashOf({ v: 2 }));
    expect((await call(gw.url, subjectPath(category), subjectToken, { method: "DELETE" })).status).to.equal(200);
    const gone = await release(category);
    expect(gone.status).to.equal(404);
    expect(gone.body.error.code).to.equal("NO_DATA");
  });

  it("denies without a grant, for another purpose, another category and another service", async function () {
    const category = await freshCategory();
    const denied = await release(category);
    expect(denied.status).to.equal(403);
    expect(denied.body.error.code).to.equal("NO_GRANT");
    expect(denied.body.requestId).to.be.a("string").and.not.equal("");

    await grant(category);
    expect((await release(category, serviceToken, "dpv:Marketing")).body.error.code).to.equal("NO_GRANT");
    const otherCategory = await freshCategory();
    expect((await release(otherCategory)).body.error.code).to.equal("NO_GRANT");
    const other = await release(category, otherToken);
    expect(other.status).to.equal(403);
    expect(other.body.error.code).to.equal("NO_GRANT");
    expect((await release(category)).status).to.equal(200);
  });

  it("denies with GRANT_REVOKED on the next request after a revocation, and after revokeAll", async function () {
    const category = await freshCategory();
    await grant(category);
    expect((await release(category)).status).to.equal(200);
    await (await registry.revoke(grantIdOf(subject.address, service.address, labelToId(category), labelToId(purpose)))).wait();
    await synced(gw.gateway);
    const res = await release(category);
    expect(res.status).to.equal(403);
    expect(res.body.error.code).to.equal("GRANT_REVOKED");

    const second = await freshCategory();
    await grant(second);
    await (await registry.revokeAll(service.address)).wait();
    await synced(gw.gateway);
    expect((await release(second)).body.error.code).to.equal("GRANT_REVOKED");
  });

  it("answers 200 one second before expiresAt and GRANT_EXPIRED at exactly that second", async function () {
    const category = await freshCategory();
    const expiresAt = await grant(category, 600);
    await time.increaseTo(expiresAt - 1);
    await synced(gw.gateway);
    expect((await release(category)).status).to.equal(200);
    await time.increaseTo(expiresAt);
    await synced(gw.gateway);
    const res = await release(category);
    expect(res.status).to.equal(403);
    expect(res.body.error.code).to.equal("GRANT_EXPIRED");
  });

  it("denies with DATA_EXPIRED once the subject's data expiry for the category has passed", async function () {
    const category = await freshCategory();
    await grant(category, 86_400);
    const dataExpiresAt = (await time.latest()) + 100;
    await (await registry.setDataExpiry(labelToId(category), dataExpiresAt)).wait();
    await synced(gw.gateway);
    expect((await release(category)).status).to.equal(200);
    await time.increaseTo(dataExpiresAt);
    await synced(gw.gateway);
    const res = await release(category);
    expect(res.status).to.equal(403);
    expect(res.body.error.code).to.equal("DATA_EXPIRED");
  });

  it("undoes a grant that a chain reorganisation removed", async function () {
    const category = await freshCategory();
    const snapshot = await hre.network.provider.send("evm_snapshot");
    await grant(category);
    expect((await release(category)).status).to.equal(200);
    await hre.network.provider.send("evm_revert", [snapshot]);
    await mine(3);
    await synced(gw.gateway);
    const res = await release(category);
    expect(res.status).to.equal(403);
    expect(res.body.error.code).to.equal("NO_GRANT");
  });

  it("fails closed with 503 INDEX_STALE while the chain is unreachable, and recovers by itself", async function () {
    const category = await freshCategory();
    await grant(category);
    gw.setChainDown(true);
    try {
      const maxAge = parseEnv({}).MAX_INDEX_AGE_MS;
      await new Promise((resolve) => setTimeout(resolve, maxAge + 100));
      const res = await release(category);
      expect(res.status).to.equal(503);
      expect(res.body.error.code).to.equal("INDEX_STALE");
      expect((await call(gw.url, "/readyz", null)).status).to.equal(503);
    } finally {
      gw.setChainDown(false);
    }
    const deadline = Date.now() + 5000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = (await release(category)).status;
    }
    expect(status).to.equal(200);
  });

  it("lists and checks grants from the index, scoped to the caller", async function () {
    const category = await freshCategory();
    const expiresAt = await grant(category);
    const mine_ = await call(gw.url, `/v1/grants?category=${category}`, serviceToken);
    expect(mine_.status).to.equal(200);
    expect(mine_.body.grants).to.have.length(1);
    expect(mine_.body.grants[0]).to.include({ grantee: service.address.toLowerCase(), expiresAt, status: "active" });
    expect(mine_.body.grants[0].txHash).to.match(/^0x[0-9a-f]{64}$/);
    const theirs = await call(gw.url, `/v1/grants?category=${category}`, otherToken);
    expect(theirs.body.grants).to.have.length(0);
    const all = await call(gw.url, `/v1/grants?category=${category}&status=all`, operatorToken);
    expect(all.body.grants).to.have.length(1);

    const q = `subject=${subject.address}&grantee=${service.address}&category=${category}&purpose=${purpose}`;
    const check = await call(gw.url, `/v1/grants/check?${q}`, subjectToken);
    expect(check.status).to.equal(200);
    expect(check.body).to.deep.include({ allowed: true, reason: null, expiresAt });
    const other = await call(gw.url, `/v1/grants/check?${q.replace(service.address, otherService.address)}`, otherToken);
    expect(other.body).to.deep.include({ allowed: false, reason: "NO_GRANT" });
  });

  it("lists each grant's status by the rule that releases: never active where a release is refused", async function () {
    const listedFor = async (category: string, status: "active" | "all") =>
      (await call(gw.url, `/v1/grants?category=${category}&status=${status}`, serviceToken)).body.grants as { status: string }[];
    const ended = await freshCategory();
    await grant(ended, 86_400);
    const live = await freshCategory();
    await grant(live, 86_400);
    const dataExpiresAt = (await chainNow()) + 60;
    await (await registry.setDataExpiry(labelToId(ended), dataExpiresAt)).wait();
    await time.increaseTo(dataExpiresAt);
    await synced(gw.gateway);

    expect((await release(ended)).body.error.code).to.equal("DATA_EXPIRED");
    expect(await listedFor(ended, "active")).to.deep.equal([]);
    expect((await listedFor(ended, "all")).map((g) => g.status)).to.deep.equal(["data-expired"]);
    expect((await release(live)).status).to.equal(200);
    expect((await listedFor(live, "active")).map((g) => g.status)).to.deep.equal(["active"]);

    await (await registry.revoke(grantIdOf(subject.address, service.address, labelToId(live), labelToId(purpose)))).wait();
    await synced(gw.gateway);
    expect(await listedFor(live, "active")).to.deep.equal([]);
    expect((await listedFor(live, "all")).map((g) => g.status)).to.deep.equal(["revoked"]);
  });

  it("pages active grants after the rule has dropped the ones a release would refuse", async function () {
    const pagedService = (await hre.ethers.getSigners())[7];
    const token = await login(gw.url, pagedService, gw.gateway.domain);
    const prefix = `paged.${counter++}`;
    const categories = [`${prefix}.a`, `${prefix}.b`, `${prefix}.c`, `${prefix}.d`];
    for (const c of categories) await grant(c, 86_400, pagedService);
    const dataExpiresAt = (await chainNow()) + 60;
    await (await registry.setDataExpiry(labelToId(categories[1]), dataExpiresAt)).wait();
    await time.increaseTo(dataExpiresAt);
    await synced(gw.gateway);
    const page = async (offset: number) =>
      (await call(gw.url, `/v1/grants?status=active&limit=2&offset=${offset}`, token)).body.grants as { category: string; status: string }[];
    const pages = [await page(0), await page(2), await page(4)];
    expect(pages.map((p) => p.length)).to.deep.equal([2, 1, 0]);
    const names = new Map(categories.map((c) => [labelToId(c).toLowerCase(), c]));
    expect(pages.flat().map((g) => g.status)).to.deep.equal(["active", "active", "active"]);
    expect(pages.flat().map((g) => names.get(g.category)).sort()).to.deep.equal([categories[0], categories[2], categories[3]]);
  });

  it("relays a subject's EIP-712 grant (gasless) and rejects a bad signature before spending gas", async function () {
    const [, , , , , relayedSubject] = await hre.ethers.getSigners();
    const category = "purchase.history";
    const putToken = await login(gw.url, relayedSubject, gw.gateway.domain);
    const path = `/v1/subjects/${relayedSubject.address.toLowerCase()}/data/${category}`;
    expect((await call(gw.url, path, putToken, { method: "PUT", body: { value: [1, 2, 3] } })).status).to.equal(201);
    const domain = await readDomain(registry);
    const expiresAt = (await time.latest()) + 3600;
    const deadline = expiresAt;
    const message = {
      subject: relayedSubject.address,
      grantee: service.address,
      category: labelToId(category),
      purpose: labelToId(purpose),
      expiresAt,
      nonce: await registry.nonces(relayedSubject.address),
      deadline,
    };
    const forged = await otherService.signTypedData(domain, typesFor("Grant"), message);
    const body = { action: "grant", subject: relayedSubject.address, grantee: service.address, category, purpose, expiresAt, deadline };
    const balanceBefore = await hre.ethers.provider.getBalance(gw.deployment.deployer);
    const rejected = await call(gw.url, "/v1/relay", null, { method: "POST", body: { ...body, signature: forged } });
    expect(rejected.status).to.equal(400);
    expect(rejected.body.error.code).to.equal("INVALID_SIGNATURE");
    expect(rejected.body.error.message).to.contain("DataUseRegistryInvalidSignature");
    expect(await hre.ethers.provider.getBalance(gw.deployment.deployer)).to.equal(balanceBefore);

    const signature = await relayedSubject.signTypedData(domain, typesFor("Grant"), message);
    const relayed = await call(gw.url, "/v1/relay", null, { method: "POST", body: { ...body, signature } });
    expect(relayed.status).to.equal(202);
    await (await hre.ethers.provider.getTransaction(relayed.body.txHash))!.wait();
    await synced(gw.gateway);
    const res = await call(gw.url, `${path}?purpose=${purpose}`, serviceToken);
    expect(res.status).to.equal(200);
    expect(res.body.value).to.deep.equal([1, 2, 3]);
  });

  it("stores only ciphertext: the SQLite files never contain the value's bytes", async function () {
    const secret = "very-secret-value-7f3a9c";
    await freshCategory({ secret });
    gw.gateway.store.db.pragma("wal_checkpoint(FULL)");
    const files = readdirSync(gw.dataDir).filter((f) => f.startsWith("gateway.sqlite"));
    expect(files).to.include("gateway.sqlite");
    for (const file of files) {
      expect(readFileSync(join(gw.dataDir, file)).includes(Buffer.from(secret)), file).to.equal(false);
    }
  });

  describe("authentication and input", function () {
    it("rejects a replayed nonce, another domain and another chain with 401", async function () {
      const { nonce } = (await call(gw.url, "/v1/auth/nonce", null)).body;
      await login(gw.url, service, gw.gateway.domain, { nonce });
      const replay = await login(gw.url, service, gw.gateway.domain, { nonce }).catch((e) => e);
      expect(replay.status).to.equal(401);
      expect(replay.body.error.code).to.equal("UNAUTHENTICATED");
      const otherDomain = await login(gw.url, service, gw.gateway.domain, { domain: "evil.example:443" }).catch((e) => e);
      expect(otherDomain.status).to.equal(401);
      const otherChain = await login(gw.url, service, gw.gateway.domain, { chainId: 1 }).catch((e) => e);
      expect(otherChain.status).to.equal(401);
    });

    it("answers 401 without or with a forged token, 403 to a stranger writing a subject's data", async function () {
      const category = await freshCategory();
      expect((await release(category, "")).status).to.equal(401);
      const forged = await release(category, serviceToken.slice(0, -4) + "AAAA");
      expect(forged.status).to.equal(401);
      expect(forged.body.error.code).to.equal("UNAUTHENTICATED");
      const stranger = await call(gw.url, subjectPath("x.y"), otherToken, { method: "PUT", body: { value: 1 } });
      expect(stranger.status).to.equal(403);
      expect(stranger.body.error.code).to.equal("FORBIDDEN");
    });

    it("answers 400 INVALID_INPUT with the zod issues for bad input, 404 for unknown routes", async function () {
      const badAddress = await call(gw.url, "/v1/subjects/0x1234/data/contact.email?purpose=dpv:Marketing", serviceToken);
      expect(badAddress.status).to.equal(400);
      expect(badAddress.body.error.code).to.equal("INVALID_INPUT");
      expect(badAddress.body.error.issues).to.be.an("array").that.is.not.empty;
      const noPurpose = await call(gw.url, subjectPath("contact.email"), serviceToken);
      expect(noPurpose.status).to.equal(400);
      const badJson = await fetch(`${gw.url}${subjectPath("a.b")}`, { method: "PUT", headers: { authorization: `Bearer ${operatorToken}`, "content-type": "application/json" }, body: "{not json" });
      expect(badJson.status).to.equal(400);
      expect(((await badJson.json()) as any).error.code).to.equal("INVALID_INPUT");
      const unknown = await call(gw.url, "/v1/nope", null);
      expect(unknown.status).to.equal(404);
      expect(unknown.body.error.code).to.equal("NOT_FOUND");
      for (const res of [badAddress, noPurpose, unknown]) expect(ERROR_CODES[res.body.error.code as keyof typeof ERROR_CODES]).to.equal(res.status);
    });

    it("serves health, readiness and an OpenAPI 3.1 document generated from the schemas (metrics: test/server/inputs)", async function () {
      expect((await call(gw.url, "/healthz", null)).body).to.deep.equal({ ok: true });
      expect((await call(gw.url, "/readyz", null)).status).to.equal(200);
      const openapi = (await call(gw.url, "/openapi.json", null)).body;
      expect(openapi.openapi).to.equal("3.1.0");
      const release = openapi.paths["/v1/subjects/{subject}/data/{category}"].get;
      expect(release.parameters.map((p: { name: string }) => p.name)).to.have.members(["subject", "category", "purpose"]);
      expect(openapi.paths["/v1/relay"].post.requestBody.content["application/json"].schema.oneOf ?? openapi.paths["/v1/relay"].post.requestBody.content["application/json"].schema.anyOf).to.have.length(5);
    });
  });
});

describe("gateway restart resumes its index", function () {
  it("reads only blocks after its persisted cursor", async function () {
    const [, subject, service] = await hre.ethers.getSigners();
    const first = await startTestGateway();
    const registry = DataUseRegistry__factory.connect(first.deployment.contracts.DataUseRegistry.address, subject);
    const expiresAt = (await time.latest()) + 3600;
    await (await registry.grant(service.address, labelToId("contact.phone"), labelToId("dpv:Marketing"), expiresAt)).wait();
    await synced(first.gateway);
    const cursorBefore = first.gateway.store.getCursor()!;
    await first.close();
    await mine(5);

    const requested: number[] = [];
    const originalSend = hre.ethers.provider.send.bind(hre.ethers.provider);
    hre.ethers.provider.send = async (method: string, params?: unknown[]) => {
      if (method === "eth_getLogs") requested.push(Number((params![0] as { fromBlock: string }).fromBlock));
      return originalSend(method, params);
    };
    try {
      const second = await startTestGateway({ deployment: first.deployment, dataDir: first.dataDir });
      try {
        expect(Math.min(...requested)).to.equal(cursorBefore.blockNumber + 1);
        const decision = second.gateway.grants.check(subject.address.toLowerCase(), subject.address.toLowerCase(), service.address.toLowerCase(), "contact.phone", "dpv:Marketing");
        expect(decision.allowed).to.equal(true);
        expect(decision.expiresAt).to.equal(expiresAt);
      } finally {
        await second.close();
      }
    } finally {
      hre.ethers.provider.send = originalSend;
      removeDir(first.dataDir);
    }
  });
});

describe("store and session caches", function () {
  it("a record write rolled back with its transaction leaves the previous value readable", function () {
    const dir = mkdtempSync(join(tmpdir(), "dul-store-"));
    const store = new SqliteStore(join(dir, "g.sqlite"));
    try {
      const record = (sealed: string) => ({ subject: "0x" + "ab".repeat(20), category: "a.b", categoryId: labelToId("a.b").toLowerCase(), sealed: Buffer.from(sealed), createdAt: 1, updatedAt: 1 });
      store.putRecord(record("first"));
      expect(store.getRecord(record("").subject, "a.b")!.sealed.toString()).to.equal("first");
      expect(() => store.transaction(() => {
        store.putRecord(record("second"));
        throw new Error("abort");
      })).to.throw("abort");
      expect(store.getRecord(record("").subject, "a.b")!.sealed.toString()).to.equal("first");
      expect(() => store.transaction(() => {
        store.deleteRecords(record("").subject, "a.b");
        throw new Error("abort");
      })).to.throw("abort");
      expect(store.getRecord(record("").subject, "a.b")!.sealed.toString()).to.equal("first");
      store.deleteRecords(record("").subject, "a.b");
      expect(store.getRecord(record("").subject, "a.b")).to.equal(null);
    } finally {
      store.close();
      removeDir(dir);
    }
  });

  it("a token already verified is still refused once expired, or for another domain or chain", function () {
    const signer = new TokenSigner(Buffer.alloc(32, 1));
    const claims = { address: "0x" + "cd".repeat(20), domain: "gw.example", chainId: 31337, exp: 1_000 };
    const token = signer.issue(claims);
    expect(signer.verify(token, "gw.example", 31337, 999)).to.deep.equal(claims);
    expect(signer.verify(token, "gw.example", 31337, 1_000)).to.equal(null);
    expect(signer.verify(token, "evil.example", 31337, 999)).to.equal(null);
    expect(signer.verify(token, "gw.example", 1, 999)).to.equal(null);
    expect(signer.verify(token, "gw.example", 31337, 999)).to.deep.equal(claims);
    expect(new TokenSigner(Buffer.alloc(32, 2)).verify(token, "gw.example", 31337, 999)).to.equal(null);
  });
});

describe("configuration", function () {
  it("is validated once, frozen, and names each bad variable", function () {
    const env = parseEnv({ PORT: "9000" });
    expect(env.PORT).to.equal(9000);
    expect(Object.isFrozen(env)).to.equal(true);
    expect(() => parseEnv({ PORT: "eighty", OPERATOR_ADDRESSES: "0xnope" })).to.throw(ConfigError, /PORT[\s\S]*OPERATOR_ADDRESSES/);
  });
});

describe("security headers", function () {
  it("API answers carry the REST set (nothing framed, sniffed or loaded) and their length, none to HEAD; the wallet page a document's CSP", async function () {
    const dir = mkdtempSync(join(tmpdir(), "dul-page-"));
    writeFileSync(join(dir, "index.html"), "<!doctype html><title>wallet</title>");
    const unused = () => {
      throw new Error("not called");
    };
    const app = createApp({
      data: { release: unused, put: unused, delete: unused, list: unused },
      grants: { list: unused, check: unused },
      relayer: { relay: unused },
      auth: { newNonce: () => "n0nce0000", login: unused },
      publicConfig: unused,
      authenticate: () => null,
      ready: () => ({ ready: true, detail: {} }),
      logger: pino({ level: "silent" }),
      bodyLimit: "100kb",
      rateLimitPerMinute: 1000,
      staticDir: dir,
    });
    const server = app.listen(0, "127.0.0.1");
    await once(server, "listening");
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      for (const path of ["/v1/auth/nonce", "/healthz", "/no/such/route"]) {
        const res = await fetch(url + path);
        await res.arrayBuffer();
        expect(res.headers.get("content-security-policy"), path).to.equal("default-src 'none';frame-ancestors 'none'");
        expect(res.headers.get("x-frame-options"), path).to.equal("DENY");
        expect(res.headers.get("x-content-type-options"), path).to.equal("nosniff");
        expect(res.headers.get("strict-transport-security"), path).to.match(/^max-age=\d+/);
        expect(res.headers.get("cross-origin-resource-policy"), path).to.equal("same-origin");
        expect(res.headers.get("referrer-policy"), path).to.equal("no-referrer");
        expect(res.headers.get("content-type"), path).to.match(/^application\/json/);
      }
      const answer = await fetch(`${url}/v1/auth/nonce`);
      const text = await answer.text();
      expect(JSON.parse(text)).to.deep.equal({ nonce: "n0nce0000" });
      expect(answer.headers.get("content-length")).to.equal(String(Buffer.byteLength(text)));
      const head = await fetch(`${url}/v1/auth/nonce`, { method: "HEAD" });
      expect(head.status).to.equal(200);
      expect(await head.text()).to.equal("");
      expect(head.headers.get("content-type")).to.equal("application/json; charset=utf-8");
      const page = await fetch(`${url}/`);
      expect(await page.text()).to.contain("wallet");
      const csp = page.headers.get("content-security-policy")!;
      expect(csp).to.contain("default-src 'self'").and.contain("script-src 'self'").and.contain("connect-src 'self'").and.not.contain("default-src 'none'");
      expect(page.headers.get("x-frame-options")).to.equal("SAMEORIGIN");
    } finally {
      server.close();
      removeDir(dir);
    }
  });
});

/**
 * A gateway of its own, holding `{ email: "<category>@example.org" }` for each category, each granted
 * to the service for dpv:ServiceProvision and indexed; `releasePath` is a category's release URL path.
 */
async function withGrantedData(
  categories: string[],
  run: (held: { gw: TestGateway; serviceToken: string; subject: string; releasePath: (category: string) => string }) => Promise<void>,
) {
  const [, subject, service, operator] = await hre.ethers.getSigners();
  const gw = await startTestGateway({ operators: [operator.address] });
  try {
    const registry = DataUseRegistry__factory.connect(gw.deployment.contracts.DataUseRegistry.address, subject);
    const [serviceToken, operatorToken] = [await login(gw.url, service, gw.gateway.domain), await login(gw.url, operator, gw.gateway.domain)];
    const pathOf = (category: string) => `/v1/subjects/${subject.address.toLowerCase()}/data/${category}`;
    for (const category of categories) {
      expect((await call(gw.url, pathOf(category), operatorToken, { method: "PUT", body: { value: { email: `${category}@example.org` } } })).status).to.equal(201);
      await (await registry.grant(service.address, labelToId(category), labelToId("dpv:ServiceProvision"), (await time.latest()) + 3600)).wait();
    }
    await synced(gw.gateway);
    await run({ gw, serviceToken, subject: subject.address.toLowerCase(), releasePath: (category) => `${pathOf(category)}?purpose=dpv:ServiceProvision` });
  } finally {
    await gw.close();
    removeDir(gw.dataDir);
  }
}

describe("gateway holding a damaged record", function () {
  it("releases nothing of it: 500 INTERNAL, no entry logged; the subject's other data is still released", async function () {
    await withGrantedData(["contact.damaged", "contact.intact"], async ({ gw, serviceToken, subject, releasePath }) => {
      const record = gw.gateway.store.getRecord(subject, "contact.damaged")!;
      const damaged = Buffer.from(record.sealed);
      damaged[damaged.length - 1] ^= 1;
      gw.gateway.store.putRecord({ ...record, sealed: damaged });

      const size = gw.gateway.store.logSize();
      const refused = await call(gw.url, releasePath("contact.damaged"), serviceToken);
      expect(refused.status).to.equal(500);
      expect(refused.body.error).to.deep.equal({ code: "INTERNAL", message: "internal error" });
      expect(JSON.stringify(refused.body)).not.to.contain("contact.damaged@");
      expect(gw.gateway.store.logSize()).to.equal(size);
      const intact = await call(gw.url, releasePath("contact.intact"), serviceToken);
      expect(intact.status).to.equal(200);
      expect(intact.body.value).to.deep.equal({ email: "contact.intact@example.org" });
      expect(gw.gateway.store.logSize()).to.equal(size + 1);
    });
  });
});

describe("gateway whose access log cannot be written", function () {
  it("releases nothing: 500 INTERNAL without the value, and no entry is logged", async function () {
    await withGrantedData(["contact.unlogged"], async ({ gw, serviceToken, releasePath }) => {
      const path = releasePath("contact.unlogged");
      expect((await call(gw.url, path, serviceToken)).status).to.equal(200);

      await gw.gateway.logWriter!.close();
      const size = gw.gateway.store.logSize();
      const refused = await call(gw.url, path, serviceToken);
      expect(refused.status).to.equal(500);
      expect(refused.body.error.code).to.equal("INTERNAL");
      expect(JSON.stringify(refused.body)).not.to.contain("unlogged@example.org");
      expect(gw.gateway.store.logSize()).to.equal(size);
    });
  });
});
