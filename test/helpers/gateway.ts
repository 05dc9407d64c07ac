import hre from "hardhat";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { hexlify, type Signer } from "ethers";
import { getBlockHeader, type RpcProvider } from "../../server/chain/logs";
import type { PeerEndpoint } from "../../server/chain/endpoints";
import pino from "pino";
import { parseEnv } from "../../server/config/env";
import { signIn } from "../../auditor/gatewayClient";
import { createGateway, type Gateway } from "../../server/gateway";
import { listen } from "../../server/http/listen";
import { deployLedger } from "../../scripts/lib/deploy";
import { checkpointNoteKey } from "../../server/audit/noteKey";
import { AuditAnchor__factory } from "../../typechain-types";
import { logIdOf, logOriginOf } from "../../core/logOrigin";
import type { Deployment } from "../../core/deployment";

/** The master key of every test gateway; its log is registered under the note key derived from it. */
export const TEST_MASTER_KEY = Buffer.alloc(32, 7);

/** An ethers provider whose calls fail while `down` is set: an RPC endpoint that went away. */
export function switchableProvider<P extends RpcProvider>(inner: P): { provider: P; setDown(down: boolean): void } {
  let down = false;
  const provider = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (down) return Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:8545"));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { provider, setDown: (value) => void (down = value) };
}

export interface TestGateway {
  gateway: Gateway;
  url: string;
  dataDir: string;
  deployment: Deployment;
  setChainDown(down: boolean): void;
  close(): Promise<void>;
}

/**
 * The staleness window test gateways run with: a live chain's head never stops, but a test process
 * on a loaded machine can stall for tens of seconds between two blocks its head keeper mines, and a
 * 30 s window then refused releases at random. Tests of the window set MAX_HEAD_AGE_SECONDS
 * themselves.
 */
export const TEST_HEAD_AGE_SECONDS = 300;

/**
 * TEST_HEAD_AGE_SECONDS, or the deployment's registered window if shorter (a longer one would not
 * start); the gateway's default where no log is registered yet, as one registered later may say.
 */
async function testHeadAge(deployment: Deployment, provider: RpcProvider): Promise<Record<string, string>> {
  const anchor = AuditAnchor__factory.connect(deployment.contracts.AuditAnchor.address, provider as never);
  const registered = Number((await anchor.logInfo(logIdOf(logOriginOf(deployment)))).maxHeadAgeSeconds);
  return registered > 0 ? { MAX_HEAD_AGE_SECONDS: String(Math.min(TEST_HEAD_AGE_SECONDS, registered)) } : {};
}

/**
 * A real gateway over the in-process Hardhat chain and a real SQLite file in a temp dir, listening
 * on an ephemeral loopback port.
 */
export async function startTestGateway(options: {
  deployment?: Deployment;
  dataDir?: string;
  env?: Record<string, string>;
  operators?: string[];
  auditors?: string[];
  /** Static files served at `/` (the built wallet page). */
  staticDir?: string;
  /** Another chain than the in-process Hardhat one (anvil): its provider and the key that deploys and runs the gateway. */
  chain?: { provider: RpcProvider; signer: Signer; chainId: number };
  /**
   * The test chains mine only on transactions: unless false, an empty block is mined whenever the
   * head grows older than a third of MAX_HEAD_AGE_SECONDS, as a live chain's would not. Tests of a
   * stalled head turn this off.
   */
  keepHeadFresh?: boolean;
  /** Further endpoints whose heads must agree with the chain's (RPC_URLS). */
  peers?: PeerEndpoint[];
  /** The anchoring key; default the deployer (which deployLedger makes an anchorer); null for none. */
  anchorSigner?: Signer | null;
  now?: () => number;
  /** Wraps the gateway's provider (a node that holds or drops some answers). */
  wrapProvider?: (provider: RpcProvider) => RpcProvider;
} = {}): Promise<TestGateway> {
  const deployer = options.chain?.signer ?? ((await hre.ethers.getSigners())[0] as unknown as Signer);
  const deployment =
    options.deployment ?? (await deployLedger(hre, { signer: deployer, noteKey: hexlify(checkpointNoteKey(TEST_MASTER_KEY).publicKey), maxHeadAgeSeconds: TEST_HEAD_AGE_SECONDS }));
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "dul-gateway-"));
  const env = parseEnv({
    DATA_DIR: dataDir,
    CHAIN_ID: String(options.chain?.chainId ?? 31337),
    PORT: "8080",
    POLL_INTERVAL_MS: "20",
    OPERATOR_ADDRESSES: (options.operators ?? []).join(","),
    AUDITOR_ADDRESSES: (options.auditors ?? []).join(","),
    LOG_LEVEL: "silent",
    ...(await testHeadAge(deployment, options.chain?.provider ?? hre.ethers.provider)),
    ...options.env,
  });
  const chainProvider = options.chain?.provider ?? hre.ethers.provider;
  const { provider: switchable, setDown } = switchableProvider(chainProvider);
  const provider = options.wrapProvider?.(switchable) ?? switchable;
  const keeper = options.keepHeadFresh === false ? null : headKeeper(chainProvider, Math.min(10, env.MAX_HEAD_AGE_SECONDS / 3));
  await keeper?.tick();
  const gateway = createGateway({
    env,
    deployment,
    provider,
    signer: deployer,
    anchorSigner: options.anchorSigner === undefined ? deployer : options.anchorSigner,
    now: options.now,
    masterKey: TEST_MASTER_KEY,
    logger: pino({ level: "silent" }),
    staticDir: options.staticDir,
    peers: options.peers,
  });
  try {
    await gateway.start();
  } catch (error) {
    await gateway.stop();
    throw error;
  }
  const server: Server = await listen(gateway.app, 0, "127.0.0.1", { requestTimeoutMs: env.REQUEST_TIMEOUT_MS });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    gateway,
    url,
    dataDir,
    deployment,
    setChainDown: setDown,
    async close() {
      await keeper?.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await gateway.stop();
    },
  };
}

/** Mines an empty block whenever the test chain's head is older than `maxAgeSeconds` by the wall clock. */
function headKeeper(chain: RpcProvider, maxAgeSeconds: number): { tick(): Promise<void>; stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = running
      .then(async () => {
        const head = await getBlockHeader(chain, "latest");
        if (Date.now() / 1000 - head.timestamp > maxAgeSeconds) await chain.send("evm_mine", []);
      })
      .catch(() => undefined);
    return running;
  };
  const timer = setInterval(tick, 1000);
  timer.unref();
  return {
    tick,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Signs in with Ethereum as `signer` (to the gateway's own domain unless overridden) and returns the bearer token. */
export function login(base: string, signer: Signer, domain: string, overrides: Partial<{ domain: string; chainId: number; nonce: string }> = {}): Promise<string> {
  return signIn(base, signer, { domain, ...overrides });
}

/** fetch with a bearer token and JSON, returning status and parsed body. */
export async function call(base: string, path: string, token: string | null, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? "GET",
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.body !== undefined ? { "content-type": "application/json" } : {}) },
    body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Waits until the gateway's index has read the chain's current head. */
export async function synced(gateway: Gateway, provider: RpcProvider = hre.ethers.provider): Promise<void> {
  await gateway.indexer.syncOnce();
  const head = await provider.getBlockNumber();
  if ((gateway.indexer.lastView()?.indexedBlock ?? -1) < head) await gateway.indexer.syncOnce();
}

/**
 * The earliest time the next block can carry: Hardhat stamps a block with the wall clock when the
 * chain has been idle, so an expiry counted from `time.latest()` alone can already be past.
 */
export async function chainNow(): Promise<number> {
  return Math.max(Number((await hre.ethers.provider.getBlock("latest"))!.timestamp), Math.floor(Date.now() / 1000));
}
