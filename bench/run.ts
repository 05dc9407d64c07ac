import hre from "hardhat";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { HDNodeWallet, JsonRpcProvider, Wallet, hexlify, toQuantity } from "ethers";
import type { RpcProvider } from "../server/chain/logs";
import pino from "pino";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import { DataUseRegistry__factory } from "../typechain-types";
import { labelToId, grantIdOf } from "../core/ids";
import { SqliteStore, readLogSize } from "../server/store/sqlite";
import { databasePathOf, parseEnv } from "../server/config/env";
import { Indexer } from "../server/chain/indexer";
import { decide } from "../server/grants/decision";
import { MerkleTree, nodeHasher } from "../core/merkleTree";
import { verifyInclusion } from "../core/merkle";
import { logEntry } from "../server/audit/accessLog";
import { deployLedger } from "../scripts/lib/deploy";
import { checkpointNoteKey } from "../server/audit/noteKey";
import type { Deployment } from "../core/deployment";
import { login, startTestGateway, synced } from "../test/helpers/gateway";
import { signIn } from "../auditor/gatewayClient";
import { benchTrust } from "./trust/index";
import { runHardhatScript, runNodeScript, startHardhatNode, startNodeProcess, type NodeProcess } from "./lib/processes";

const run = promisify(execFile);
const RESULTS = join(__dirname, "results.json");

interface Cannon {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}

/** Load from a separate process (autocannon's CLI), so that the load generator does not share the server's event loop. */
async function cannon(url: string, headers: Record<string, string>, seconds: number): Promise<Cannon> {
  const args = ["-c", "32", "-d", String(seconds), "-j", ...Object.entries(headers).flatMap(([k, v]) => ["-H", `${k}=${v}`]), url];
  const { stdout } = await run(join(process.cwd(), "node_modules", ".bin", "autocannon"), args, { maxBuffer: 1 << 26 });
  return JSON.parse(stdout) as Cannon;
}

const round = (n: number, digits = 1) => Number(n.toFixed(digits));

/** The release bench's rounds, each running the ceiling, the stack and the gateway in turn. */
const RELEASE_ROUNDS = 4;
const RELEASE_ROUND_SECONDS = 4;

/** A load run against one server process, with the CPU time that process spent on each request. */
async function cannonOn(server: NodeProcess, url: string, headers: Record<string, string>, seconds: number): Promise<Cannon & { cpuMicrosPerRequest: number | null }> {
  const before = server.cpuSeconds();
  const result = await cannon(url, headers, seconds);
  const after = server.cpuSeconds();
  return { ...result, cpuMicrosPerRequest: before === null || after === null ? null : Math.round(((after - before) * 1e6) / result.requests.total) };
}

/** An indexer over the bench's deployment that reads 2,000 blocks per getLogs page. */
function benchIndexer(provider: RpcProvider, store: SqliteStore, deployment: Deployment): Indexer {
  const registry = deployment.contracts.DataUseRegistry;
  const options = { registryAddress: registry.address, fromBlock: registry.blockNumber, deploymentId: registry.transactionHash, pageBlocks: 2000 };
  return new Indexer(provider, store, { ...options, pollIntervalMs: 1000, maxLagBlocks: 2, maxAgeMs: 60_000, confirmations: 0 }, pino({ level: "silent" }));
}

async function benchGrantCheck(results: Record<string, unknown>, rpcUrl: string): Promise<void> {
  const [, subject, service] = await hre.ethers.getSigners();
  const deployment = await deployLedger(hre);
  const registry = DataUseRegistry__factory.connect(deployment.contracts.DataUseRegistry.address, subject);
  const now = (await hre.ethers.provider.getBlock("latest"))!.timestamp;
  const categories = Array.from({ length: 200 }, (_, i) => labelToId(`bench.category.${i}`));
  const purpose = labelToId("dpv:ServiceProvision");
  await (await registry.grantBatch(categories.map((category) => ({ grantee: service.address, category, purpose, expiresAt: now + 86_400 })))).wait();

  const dir = mkdtempSync(join(tmpdir(), "dul-bench-"));
  const store = new SqliteStore(join(dir, "g.sqlite"));
  const indexer = benchIndexer(hre.ethers.provider, store, deployment);
  await indexer.syncOnce();
  const s = subject.address.toLowerCase();
  const g = service.address.toLowerCase();
  const queries = categories.map((c) => ({ subject: s, grantee: g, category: c, purpose, grantId: grantIdOf(s, g, c, purpose).toLowerCase() }));

  let decisions = 0;
  const start = performance.now();
  while (performance.now() - start < 2000) {
    for (let i = 0; i < 1000; i++) {
      const d = decide(store, queries[(decisions + i) % queries.length], indexer.freshView(), 0);
      if (!d.allowed) throw new Error("bench grant unexpectedly denied");
    }
    decisions += 1000;
  }
  const indexedPerSec = decisions / ((performance.now() - start) / 1000);

  // The peers' way: one eth_call of the registry's check() per decision, over JSON-RPC with ethers'
  // own provider, 16 in flight.
  const rpc = new JsonRpcProvider(rpcUrl, 31337, { staticNetwork: true, batchMaxCount: 1 });
  const remote = DataUseRegistry__factory.connect(deployment.contracts.DataUseRegistry.address, rpc);
  let calls = 0;
  const callStart = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async (_, worker) => {
      while (performance.now() - callStart < 4000) {
        const [valid] = await remote.check(subject.address, service.address, categories[(calls + worker) % categories.length], purpose);
        if (!valid) throw new Error("bench grant unexpectedly invalid on chain");
        calls += 1;
      }
    }),
  );
  const ethCallPerSec = calls / ((performance.now() - callStart) / 1000);
  rpc.destroy();
  store.close();
  rmSync(dir, { recursive: true, force: true });
  results.grantCheck = { indexedPerSec: Math.round(indexedPerSec), ethCallPerSec: round(ethCallPerSec), ratio: Math.round(indexedPerSec / ethCallPerSec) };
}

/** A Hardhat account's key (the default mnemonic), for a gateway that runs as its own process. */
function hardhatAccountKey(index: number): string {
  const accounts = hre.config.networks.hardhat.accounts as { mnemonic: string; path: string };
  return HDNodeWallet.fromPhrase(accounts.mnemonic, undefined, `${accounts.path}/${index}`).privateKey;
}

/**
 * Step 2: releases over HTTP and revocation → first 403. The gateway runs as its own process over
 * JSON-RPC, as in production, and so does the express ceiling it is compared with; autocannon is a
 * third process. Each is warmed up for 2 s, then measured in rounds with the others.
 */
async function benchRelease(results: Record<string, unknown>, rpcUrl: string): Promise<void> {
  const [, subject, service, operator] = await hre.ethers.getSigners();
  const gatewayKey = hardhatAccountKey(9);
  // The anchoring key is another key than the relaying one, as server/index.ts requires.
  const anchorKey = hardhatAccountKey(10);
  const masterKey = randomBytes(32);
  const dir = mkdtempSync(join(tmpdir(), "dul-release-"));
  const deploymentFile = join(dir, "deployment.json");
  await deployLedger(hre, { anchorers: [new Wallet(anchorKey).address], noteKey: hexlify(checkpointNoteKey(masterKey).publicKey), outFile: deploymentFile });
  const gateway = await startNodeProcess("server/index.ts", {
    RPC_URL: rpcUrl,
    CHAIN_ID: "31337",
    DEPLOYMENT_FILE: deploymentFile,
    GATEWAY_PRIVATE_KEY: gatewayKey,
    ANCHOR_PRIVATE_KEY: anchorKey,
    MASTER_KEY: masterKey.toString("hex"),
    DATA_DIR: dir,
    OPERATOR_ADDRESSES: operator.address,
    RATE_LIMIT_PER_MINUTE: "100000000",
    LOG_LEVEL: "warn",
  }, "/readyz");
  const ceiling = await startNodeProcess("bench/ceiling.ts", {});
  const stack = await startNodeProcess("bench/stackCeiling.ts", {});
  try {
    const deployment = JSON.parse(readFileSync(deploymentFile, "utf8")) as Deployment;
    const registry = DataUseRegistry__factory.connect(deployment.contracts.DataUseRegistry.address, subject);
    const s = subject.address.toLowerCase();
    const purpose = "dpv:ServiceProvision";
    const operatorToken = await signIn(gateway.url, operator);
    const serviceToken = await signIn(gateway.url, service);
    const asOperator = { authorization: `Bearer ${operatorToken}`, "content-type": "application/json" };
    const asService = { authorization: `Bearer ${serviceToken}` };
    const dataUrl = (category: string) => `${gateway.url}/v1/subjects/${s}/data/${category}`;
    /** Waits until the gateway's index has read the chain's current head. */
    const indexed = async () => {
      const head = await hre.ethers.provider.getBlockNumber();
      const deadline = Date.now() + 10_000;
      while (((await (await fetch(`${gateway.url}/readyz`)).json()) as { indexedBlock?: number }).indexedBlock! < head) {
        if (Date.now() > deadline) throw new Error(`the gateway did not index block ${head} within 10 s`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };

    const category = "contact.email";
    await fetch(dataUrl(category), { method: "PUT", headers: asOperator, body: JSON.stringify({ value: { email: "bench@example.org", name: "Bench Subject" } }) });
    const now = (await hre.ethers.provider.getBlock("latest"))!.timestamp;
    await (await registry.grant(service.address, labelToId(category), labelToId(purpose), now + 86_400)).wait();
    await indexed();
    const releaseUrl = `${dataUrl(category)}?purpose=${purpose}`;
    const check = await fetch(releaseUrl, { headers: asService });
    if (check.status !== 200) throw new Error(`release setup failed: ${check.status} ${await check.text()}`);

    const { pathname, search } = new URL(releaseUrl);
    const targets = {
      ceiling: { server: ceiling, url: `${ceiling.url}/constant`, headers: {} },
      stack: { server: stack, url: `${stack.url}${pathname}${search}`, headers: asService },
      release: { server: gateway, url: releaseUrl, headers: asService },
    };
    for (const target of Object.values(targets)) await cannon(target.url, target.headers, 2);
    // Rounds of the three side by side, so that a slower minute of the machine weighs on all three
    // alike; each figure is the median of its rounds, each ratio the median of the rounds' ratios.
    const rounds: Record<keyof typeof targets, Cannon & { cpuMicrosPerRequest: number | null }>[] = [];
    const databaseFile = databasePathOf(parseEnv({ DATA_DIR: dir }));
    const logBefore = readLogSize(databaseFile);
    for (let i = 0; i < RELEASE_ROUNDS; i++) {
      const measured = {} as (typeof rounds)[number];
      for (const [name, target] of Object.entries(targets) as [keyof typeof targets, (typeof targets)[keyof typeof targets]][]) {
        const run = await cannonOn(target.server, target.url, target.headers, RELEASE_ROUND_SECONDS);
        if (run.non2xx > 0 || run.errors > 0) throw new Error(`${name} saw ${run.non2xx} non-2xx and ${run.errors} errors`);
        measured[name] = run;
      }
      rounds.push(measured);
    }
    const released = rounds.reduce((sum, r) => sum + r.release.requests.total, 0);
    const logged = readLogSize(databaseFile) - logBefore;
    if (logged < released) throw new Error(`release bench: ${released} releases but ${logged} log entries`);
    const median = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      const mid = sorted.length / 2;
      return Number.isInteger(mid) ? (sorted[mid - 1] + sorted[mid]) / 2 : sorted[Math.floor(mid)];
    };
    const perSec = (name: keyof typeof targets) => median(rounds.map((r) => r[name].requests.average));
    const ratio = (name: keyof typeof targets) => median(rounds.map((r) => r[name].requests.average / r.ceiling.requests.average));
    const latencyMs = (name: keyof typeof targets, percentile: "p50" | "p99") => median(rounds.map((r) => r[name].latency[percentile]));
    const cpu = (name: keyof typeof targets) => (rounds.some((r) => r[name].cpuMicrosPerRequest === null) ? null : Math.round(median(rounds.map((r) => r[name].cpuMicrosPerRequest!))));
    results.release = {
      perSec: round(perSec("release")),
      p50Ms: latencyMs("release", "p50"),
      p99Ms: latencyMs("release", "p99"),
      ceilingPerSec: round(perSec("ceiling")),
      ratioToCeiling: round(ratio("release"), 3),
      stackCeilingPerSec: round(perSec("stack")),
      stackRatioToCeiling: round(ratio("stack"), 3),
      ceilingP99Ms: latencyMs("ceiling", "p99"),
      // The tail of the gateway's own stack with nothing behind it: what a release's p99 is measured against.
      stackP99Ms: latencyMs("stack", "p99"),
      stackP50Ms: latencyMs("stack", "p50"),
      // The server process's own CPU time per request: unlike the rates, it leaves out how the two
      // cores were shared with the load generator and the chain.
      cpuMicrosPerRequest: { release: cpu("release"), stack: cpu("stack"), ceiling: cpu("ceiling") },
      rounds: rounds.map((r) => ({
        releasePerSec: round(r.release.requests.average),
        stackPerSec: round(r.stack.requests.average),
        ceilingPerSec: round(r.ceiling.requests.average),
        releaseP99Ms: r.release.latency.p99,
        stackP99Ms: r.stack.latency.p99,
        ceilingP99Ms: r.ceiling.latency.p99,
      })),
      loggedEntries: logged,
    };

    // Revocation mined → first 403, timed from the moment the bench has the revocation's receipt (the
    // block exists by then; the figure leaves out the few ms before the receipt arrives).
    const samples: number[] = [];
    for (let i = 0; i < 10; i++) {
      const c = `bench.revoke.${i}`;
      await fetch(dataUrl(c), { method: "PUT", headers: asOperator, body: JSON.stringify({ value: i }) });
      const t = (await hre.ethers.provider.getBlock("latest"))!.timestamp;
      await (await registry.grant(service.address, labelToId(c), labelToId(purpose), t + 86_400)).wait();
      await indexed();
      const url = `${dataUrl(c)}?purpose=${purpose}`;
      if ((await fetch(url, { headers: asService })).status !== 200) throw new Error("revocation setup failed");
      const tx = await registry.revoke(grantIdOf(subject.address, service.address, labelToId(c), labelToId(purpose)));
      await tx.wait();
      const minedAt = performance.now();
      for (;;) {
        const res = await fetch(url, { headers: asService });
        await res.arrayBuffer();
        if (res.status === 403) break;
      }
      samples.push(performance.now() - minedAt);
    }
    samples.sort((a, b) => a - b);
    results.revocationToDenyMs = round(samples[samples.length - 1]);
    results.revocationToDenyMedianMs = round(samples[Math.floor(samples.length / 2)]);
  } finally {
    await ceiling.stop();
    await stack.stop();
    await gateway.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The access log's size, read from the gateway's database file (WAL lets a reader in beside the writer). */
/**
 * Step 2: the gateway's catch-up, in its own process, over a chain holding `events` grant events.
 * That chain is a Hardhat node of its own, as a production node is: 400 blocks mined in a minute
 * would also push the shared chain's clock minutes ahead of the wall clock the other figures use.
 */
async function benchCatchup(results: Record<string, unknown>, events: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "dul-catchup-"));
  const deploymentFile = join(dir, "deployment.json");
  const node = await startHardhatNode();
  try {
    await runHardhatScript("bench/catchupChain.ts", { RPC_URL: node.url, DEPLOYMENT_OUT: deploymentFile, CATCHUP_EVENTS: String(events) });
    const out = await runNodeScript("bench/catchup.ts", { RPC_URL: node.url, CHAIN_ID: "31337", DEPLOYMENT_FILE: deploymentFile });
    const { events: indexed, seconds, expiryTickMs } = JSON.parse(out.trim().split("\n").pop()!) as { events: number; seconds: number; expiryTickMs: number };
    if (indexed !== events) throw new Error(`catch-up indexed ${indexed} of ${events} grants`);
    results.indexCatchupEventsPerSec = Math.round(events / seconds);
    results.indexCatchupEvents = events;
    results.indexCatchupSec = round(seconds, 2);
    // Median of 21 ticks of the expiry scheduler (every SCHEDULER_INTERVAL_MS) over these live grants.
    results.expiryTickMsAtCatchupGrants = round(expiryTickMs, 3);
  } finally {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

/** Step 3: expiry instant → data deleted (receipt time), and 10,000 grants ending in the same second → all orders. */
async function benchDeletion(results: Record<string, unknown>): Promise<void> {
  const [, , service, , , , , , , , subject, bulkSubject] = await hre.ethers.getSigners();
  const gw = await startTestGateway({ env: { POLL_INTERVAL_MS: "20" } });
  try {
    const registry = DataUseRegistry__factory.connect(gw.deployment.contracts.DataUseRegistry.address, subject);
    const s = subject.address.toLowerCase();
    const count = 200;
    for (let i = 0; i < count; i++) await gw.gateway.data.put(s, s, `bench.burn.${i}`, { i }, `bench-${i}`);
    // Expiries 4 to 7 s ahead of the block that sets them, whichever clock is ahead.
    const headTime = (await hre.ethers.provider.getBlock("latest"))!.timestamp;
    const base = Math.max(headTime, Math.floor(Date.now() / 1000)) + 4;
    // One block for all of them: mining one block per transaction would push chain time ahead of the wall clock.
    // Each transaction's gas limit counts against the block's: reserve what one needs, not more.
    const gas = toQuantity(((await registry.setDataExpiry.estimateGas(labelToId("bench.burn.estimate"), base)) * 6n) / 5n);
    const to = await registry.getAddress();
    const hashes: string[] = [];
    await hre.network.provider.send("evm_setAutomine", [false]);
    try {
      for (let i = 0; i < count; i++) {
        const data = registry.interface.encodeFunctionData("setDataExpiry", [labelToId(`bench.burn.${i}`), base + (i % 4)]);
        hashes.push(await hre.network.provider.send("eth_sendTransaction", [{ from: subject.address, to, data, gas }]));
      }
      await hre.network.provider.send("evm_mine");
    } finally {
      await hre.network.provider.send("evm_setAutomine", [true]);
    }
    const receiptsOnChain = await Promise.all(hashes.map((hash) => hre.ethers.provider.getTransactionReceipt(hash)));
    const set = receiptsOnChain.filter((r) => r?.status === 1).length;
    if (set !== count) throw new Error(`deletion bench: ${set} of ${count} data expiries were set in the block`);
    await synced(gw.gateway);
    const lastAt = (base + 4) * 1000;
    // Deletion goes by the chain head's time: the chain moves on as a live one does, a block a
    // second stamped with the wall clock (Hardhat's own clock may lag it on a loaded machine).
    for (let next = Date.now(); Date.now() < lastAt + 2500; ) {
      if (Date.now() >= next) {
        const latest = (await hre.ethers.provider.getBlock("latest"))!.timestamp;
        await hre.network.provider.send("evm_mine", [Math.max(latest + 1, Math.floor(Date.now() / 1000))]);
        next += 1000;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const receipts = gw.gateway.store.readLog(0, gw.gateway.store.logSize()).filter((e) => e.kind === "deletion" && e.subject === s);
    if (receipts.length !== count) throw new Error(`deletion bench: ${receipts.length} receipts for ${count} expiries`);
    const latencies = receipts.map((r) => r.at - ((r.detail as { expiresAt: number }).expiresAt * 1000)).sort((a, b) => a - b);

    const bulk = registry.connect(bulkSubject);
    gw.gateway.deletion.stop();
    const expiresAt = (await hre.ethers.provider.getBlock("latest"))!.timestamp + 3600;
    const pending = [];
    for (let batch = 0; batch < 40; batch++) {
      const requests = Array.from({ length: 250 }, (_, i) => ({ grantee: service.address, category: labelToId(`bench.same.${batch}.${i}`), purpose: labelToId("dpv:Marketing"), expiresAt }));
      pending.push(await bulk.grantBatch(requests, { gasLimit: 15_000_000 }));
    }
    await Promise.all(pending.map((tx) => tx.wait()));
    await time.increaseTo(expiresAt);
    await synced(gw.gateway);
    const started = performance.now();
    const { orders } = gw.gateway.deletion.runDue();
    const seconds = (performance.now() - started) / 1000;
    if (orders !== 10_000) throw new Error(`deletion bench: ${orders} orders for 10,000 grants`);
    results.deletion = { p50Ms: round(percentile(latencies, 0.5)), p99Ms: round(percentile(latencies, 0.99)), expiries: count, sameSecond10kSec: round(seconds, 2) };
  } finally {
    await gw.close();
    rmSync(gw.dataDir, { recursive: true, force: true });
  }
}

/** Step 4: durable appends/s with releases in flight, release → signed checkpoint, proofs at 1M, verify over 1M. */
async function benchAudit(results: Record<string, unknown>): Promise<void> {
  const [, subject, service, operator] = await hre.ethers.getSigners();
  const gw = await startTestGateway({ operators: [operator.address], env: { RATE_LIMIT_PER_MINUTE: "100000000", ANCHOR_INTERVAL_MS: "600000" } });
  const audit: Record<string, unknown> = {};
  try {
    const registry = DataUseRegistry__factory.connect(gw.deployment.contracts.DataUseRegistry.address, subject);
    const s = subject.address.toLowerCase();
    const purpose = "dpv:ServiceProvision";
    await gw.gateway.data.put(s, s, "bench.audit", { v: 1 }, "bench");
    await (await registry.grant(service.address, labelToId("bench.audit"), labelToId(purpose), (await time.latest()) + 86_400)).wait();
    await synced(gw.gateway);
    const serviceToken = await login(gw.url, service, gw.gateway.domain);
    const url = `${gw.url}/v1/subjects/${s}/data/bench.audit?purpose=${purpose}`;

    // Release → covered by a signed checkpoint (CHECKPOINT_INTERVAL_MS, default 1 s).
    const coverage: number[] = [];
    const waiting: { index: number; at: number }[] = [];
    const watcher = setInterval(() => {
      const size = gw.gateway.store.latestCheckpoint()?.treeSize ?? 0;
      for (let i = waiting.length - 1; i >= 0; i--) {
        if (waiting[i].index < size) {
          coverage.push(performance.now() - waiting[i].at);
          waiting.splice(i, 1);
        }
      }
    }, 5);
    for (let i = 0; i < 150; i++) {
      const res = await fetch(url, { headers: { authorization: `Bearer ${serviceToken}` } });
      const body = (await res.json()) as { auditIndex: number };
      waiting.push({ index: body.auditIndex, at: performance.now() });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    while (waiting.length > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    clearInterval(watcher);
    coverage.sort((a, b) => a - b);
    audit.releaseToCheckpointP50Ms = round(percentile(coverage, 0.5));
    audit.releaseToCheckpointP99Ms = round(percentile(coverage, 0.99));

    // Durable appends/s: writers appending through the group commit while releases are served.
    const before = gw.gateway.store.logSize();
    const started = performance.now();
    let stop = false;
    const writers = Array.from({ length: 64 }, async () => {
      while (!stop) await gw.gateway.accessLog.append(logEntry({ kind: "write", requestId: "bench-append", actor: s, subject: s, category: "bench.audit.w", payloadHash: "0x" + "cd".repeat(32) }));
    });
    const releases = await cannon(url, { authorization: `Bearer ${serviceToken}` }, 5);
    stop = true;
    await Promise.all(writers);
    const appended = gw.gateway.store.logSize() - before;
    audit.appendsPerSec = Math.round(appended / ((performance.now() - started) / 1000));
    audit.releasesPerSecDuringAppends = round(releases.requests.average);
  } finally {
    await gw.close();
    rmSync(gw.dataDir, { recursive: true, force: true });
  }

  // Inclusion proof generate + verify in a tree of 1,000,000 entries.
  const tree = new MerkleTree();
  for (let i = 0; i < 1_000_000; i++) tree.appendLeafHash(randomBytes(32));
  const root = tree.rootAt();
  const rounds = 2000;
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) {
    const index = Math.floor(Math.random() * tree.size);
    if (!verifyInclusion(tree.leafHash(index), index, tree.size, tree.inclusionProof(index), root, nodeHasher)) throw new Error("proof failed");
  }
  audit.inclusionProofMs = round((performance.now() - t0) / rounds, 4);
  const t1 = performance.now();
  for (let i = 0; i < 200; i++) {
    const index = Math.floor(Math.random() * tree.size);
    if (!verifyInclusion(tree.leafHash(index), index, tree.size, tree.inclusionProof(index), root)) throw new Error("proof failed");
  }
  audit.inclusionProofPortableMs = round((performance.now() - t1) / 200, 4);

  // `audit verify` over 1,000,000 entries is in the trust section (bench/trust/verify.ts).
  results.audit = audit;
}

async function main(): Promise<void> {
  const results: Record<string, unknown> = existsSync(RESULTS) ? JSON.parse(readFileSync(RESULTS, "utf8")) : {};
  results.machine = { cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, node: process.version };
  // A partial run (BENCH_ONLY) keeps the date of the full run its other sections came from.
  const sections = ["grantCheck", "release", "deletion", "audit", "catchup", "trust"];
  const ran = process.env.BENCH_ONLY?.split(",") ?? sections;
  if (!process.env.BENCH_ONLY) results.date = new Date().toISOString();
  results.sectionDates = { ...(results.sectionDates as object), ...Object.fromEntries(ran.map((s) => [s, new Date().toISOString()])) };
  const rpcServer = await hre.run(TASK_NODE_CREATE_SERVER, { hostname: "127.0.0.1", port: 0, provider: hre.network.provider });
  const { port } = await rpcServer.listen();
  const rpcUrl = `http://127.0.0.1:${port}`;
  try {
    const only = process.env.BENCH_ONLY?.split(",");
    const want = (name: string) => !only || only.includes(name);
    if (want("grantCheck")) await benchGrantCheck(results, rpcUrl);
    if (want("release")) await benchRelease(results, rpcUrl);
    if (want("deletion")) await benchDeletion(results);
    if (want("audit")) await benchAudit(results);
    if (want("catchup")) await benchCatchup(results, Number(process.env.BENCH_CATCHUP_EVENTS ?? 100_000));
    if (want("trust")) results.trust = await benchTrust();
  } finally {
    await rpcServer.close();
  }
  writeFileSync(RESULTS, JSON.stringify(results, null, 2) + "\n");
  console.log(JSON.stringify(results, null, 2));
  console.log(`wrote ${RESULTS}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
