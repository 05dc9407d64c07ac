import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import type { Signer } from "ethers";
import pino, { type Logger } from "pino";
import { ConfigError, databasePathOf, publicUrlOf, type Env } from "./config/env";
import type { Deployment } from "../core/deployment";
import { logOriginOf } from "../core/logOrigin";
import { SqliteStore } from "./store/sqlite";
import { Keyring } from "./crypto/keyring";
import { AccessLog, storeSink } from "./audit/accessLog";
import { LogWriter } from "./audit/logWriter";
import { Indexer } from "./chain/indexer";
import type { RpcProvider } from "./chain/logs";
import { Relayer } from "./chain/relayer";
import { displayUrl, type PeerEndpoint } from "./chain/endpoints";
import { PendingEffects } from "./chain/pendingEffects";
import { MinedTransactions } from "./chain/receipts";
import { chainRoutes } from "./http/chainRoutes";
import { SiweAuth } from "./auth/siwe";
import { TokenSigner } from "./auth/tokens";
import { Roles } from "./auth/roles";
import { DataService } from "./data/dataService";
import { GrantService } from "./grants/grantService";
import { createApp } from "./http/app";
import { DeletionService } from "./deletion/deletionService";
import { DeletionOutbox } from "./deletion/outbox";
import { deletionRoutes } from "./http/deletionRoutes";
import { AuditLog } from "./audit/auditLog";
import { Anchoring } from "./audit/anchoring";
import { checkpointNoteKey } from "./audit/noteKey";
import { auditRoutes } from "./http/auditRoutes";

export interface GatewayDeps {
  env: Env;
  deployment: Deployment;
  provider: RpcProvider;
  /** The gateway's key: relays signed actions and signs checkpoints. */
  signer: Signer;
  /**
   * The key that anchors checkpoints on AuditAnchor (ANCHOR_PRIVATE_KEY), apart from the relaying key;
   * without it the gateway does not anchor, and /readyz says so.
   */
  anchorSigner?: Signer | null;
  /** The wall clock in milliseconds (anchoring's schedule); injected by tests. */
  now?: () => number;
  masterKey: Buffer;
  logger?: Logger;
  staticDir?: string;
  /** Further endpoints of the same chain (RPC_URLS), whose heads must agree with `provider`'s. */
  peers?: PeerEndpoint[];
}

/** Every part of the gateway, wired, without listening or polling yet. */
export function createGateway(deps: GatewayDeps) {
  const { env, deployment } = deps;
  const logger = deps.logger ?? pino({ level: env.LOG_LEVEL });
  const store = new SqliteStore(databasePathOf(env));
  const roles = new Roles(env.OPERATOR_ADDRESSES, env.AUDITOR_ADDRESSES);
  const keyring = new Keyring(deps.masterKey, store);
  try {
    checkMasterKey(store, keyring, deps.masterKey);
  } catch (error) {
    store.close();
    throw error;
  }
  const payloadKey = Keyring.derive(deps.masterKey, "payload-hash");
  // A database in memory has no second connection to write it; one on disk is written beside the event loop.
  const logWriter = store.path === ":memory:" ? null : new LogWriter(store.path, payloadKey);
  // 12 entries: of the sizes tried in the release bench (2 to 32, or whole turns; README), none served more.
  const accessLog = logWriter ? new AccessLog(logWriter, { flushAt: 12 }) : new AccessLog(storeSink(store, payloadKey));
  const registry = deployment.contracts.DataUseRegistry;
  const indexer = new Indexer(
    deps.provider,
    store,
    {
      registryAddress: registry.address,
      fromBlock: registry.blockNumber,
      deploymentId: `${deployment.chainId}:${registry.address.toLowerCase()}:${registry.transactionHash}`,
      pageBlocks: env.LOG_PAGE_BLOCKS,
      pollIntervalMs: env.POLL_INTERVAL_MS,
      maxLagBlocks: env.MAX_INDEX_LAG,
      maxAgeMs: env.MAX_INDEX_AGE_MS,
      maxHeadAgeSeconds: env.MAX_HEAD_AGE_SECONDS,
      confirmations: env.CONFIRMATIONS,
      peers: deps.peers,
      maxHeadSpread: env.RPC_MAX_HEAD_SPREAD,
      primaryUrl: displayUrl(env.RPC_URL),
    },
    logger.child({ component: "indexer" }),
  );
  const domain = env.PUBLIC_ORIGIN ? new URL(env.PUBLIC_ORIGIN).host : `${env.HOST}:${env.PORT}`;
  const auth = new SiweAuth(
    { domain, origin: publicUrlOf(env), chainId: env.CHAIN_ID, tokenTtlSeconds: env.TOKEN_TTL_SECONDS },
    new TokenSigner(Keyring.derive(deps.masterKey, "session-tokens")),
    deps.provider,
  );
  const deletion = new DeletionService({
    store,
    keyring,
    indexer,
    logger: logger.child({ component: "expiry" }),
    intervalMs: env.SCHEDULER_INTERVAL_MS,
    maxClockSkewSeconds: env.MAX_CLOCK_SKEW_SECONDS,
  });
  const publicUrl = publicUrlOf(env);
  const outbox = new DeletionOutbox(
    { deletions: deletion.deletions, log: store, signer: deps.signer, publicUrl, logger: logger.child({ component: "outbox" }) },
    { intervalMs: env.OUTBOX_INTERVAL_MS, maxAttempts: env.OUTBOX_MAX_ATTEMPTS, baseDelayMs: env.OUTBOX_BASE_DELAY_MS, timeoutMs: env.OUTBOX_TIMEOUT_MS, concurrency: 16 },
  );
  const origin = logOriginOf(deployment);
  const noteKey = checkpointNoteKey(deps.masterKey);
  const anchoring = new Anchoring(
    store,
    deps.anchorSigner ?? null,
    deps.provider,
    {
      origin,
      anchorAddress: deployment.contracts.AuditAnchor.address,
      noteKey: noteKey.publicKey,
      maxHeadAgeSeconds: env.MAX_HEAD_AGE_SECONDS,
      intervalMs: env.ANCHOR_INTERVAL_MS,
      now: deps.now,
    },
    logger.child({ component: "anchor" }),
  );
  // Checkpoints are signed by the key that anchors them: the key AuditAnchor's role names.
  const checkpointSigner = deps.anchorSigner ?? deps.signer;
  const audit = new AuditLog(
    store,
    checkpointSigner,
    { origin, checkpointIntervalMs: env.CHECKPOINT_INTERVAL_MS, noteKey, witnessUrls: env.WITNESS_URLS, witnessTimeoutMs: env.WITNESS_TIMEOUT_MS },
    logger.child({ component: "audit" }),
    anchoring,
  );
  const pending = new PendingEffects();
  const transactions = new MinedTransactions({
    provider: deps.provider,
    registryAddress: registry.address,
    indexer,
    pending,
    pollIntervalMs: env.POLL_INTERVAL_MS,
    log: logger.child({ component: "transactions" }),
  });
  const grants = new GrantService({ store, indexer, roles, pending });
  const data = new DataService({ store, keyring, accessLog, grants, roles, eraser: deletion, payloadKey });
  const relayer = new Relayer(registry.address, deps.signer, (txHash) => transactions.follow(txHash));
  const app = createApp({
    auth,
    data,
    grants,
    relayer,
    publicConfig: async () => ({
      chainId: deployment.chainId,
      domain,
      origin: new URL(publicUrl).origin,
      gatewayAddress: await deps.signer.getAddress(),
      checkpointSigner: await checkpointSigner.getAddress(),
      contracts: {
        DataUseRegistry: { address: registry.address, blockNumber: registry.blockNumber },
        AuditAnchor: { address: deployment.contracts.AuditAnchor.address, blockNumber: deployment.contracts.AuditAnchor.blockNumber },
      },
    }),
    authenticate: (token) => auth.authenticate(token),
    ready: () => {
      const view = indexer.lastView();
      // Releases do not wait for anchoring: a refusal is shown, not counted against readiness.
      const anchoringDetail = anchoring.status.ok ? { ok: true } : { ok: false, reason: anchoring.status.reason };
      try {
        const writerDown = logWriter?.failure;
        if (writerDown) throw writerDown;
        indexer.freshView();
        return { ready: true, detail: { indexedBlock: view?.indexedBlock, headBlock: view?.headNumber, endpoints: indexer.endpoints(), anchoring: anchoringDetail } };
      } catch (error) {
        return { ready: false, detail: { reason: (error as Error).message, indexedBlock: view?.indexedBlock ?? null, endpoints: indexer.endpoints(), anchoring: anchoringDetail } };
      }
    },
    logger,
    bodyLimit: env.BODY_LIMIT,
    jsonMaxDepth: env.JSON_MAX_DEPTH,
    metricsToken: env.METRICS_TOKEN,
    rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
    staticDir: deps.staticDir,
    registerMetrics: (registry) => deletion.registerMetrics(registry),
    extraRoutes: [...chainRoutes({ transactions }), ...deletionRoutes({ deletions: deletion.deletions, roles, log: store }), ...auditRoutes({ audit, log: store, roles })],
  });

  return {
    app,
    store,
    indexer,
    auth,
    data,
    grants,
    relayer,
    receipts: transactions,
    deletion,
    outbox,
    audit,
    accessLog,
    logWriter,
    logger,
    domain,
    /**
     * Catches up with the chain and carries out every expiry that fell due while the gateway was
     * down, before anything is served; then follows the chain and the clock.
     */
    async start(): Promise<void> {
      audit.verifyStoredLog();
      // Refuses to start with a staleness window longer than the log's registered one (ConfigError).
      await anchoring.checkLog(true);
      await indexer.syncOnce();
      deletion.runDue();
      indexer.start();
      deletion.start();
      outbox.start();
      audit.start();
    },
    async stop(): Promise<void> {
      transactions.stop();
      deletion.stop();
      await audit.stop();
      await outbox.stop();
      await indexer.stop();
      await logWriter?.close();
      store.close();
    },
  };
}

export type Gateway = ReturnType<typeof createGateway>;

/**
 * A wrong MASTER_KEY would open nothing: every release a 500. The database keeps a value derived from
 * the key it was written under, and a start with another key is a configuration error. A database
 * from before the check is tried on one of its wrapped data keys first.
 */
function checkMasterKey(store: SqliteStore, keyring: Keyring, masterKey: Buffer): void {
  const check = Keyring.derive(masterKey, "master-key-check").toString("hex");
  const stored = store.getMeta("master-key.check");
  const wrong = () => new ConfigError(`invalid configuration:\n  MASTER_KEY: not the key this database (${store.path}) was written with`);
  if (stored !== null) {
    if (stored !== check) throw wrong();
    return;
  }
  const subject = store.anyKeyedSubject();
  if (subject !== null) {
    try {
      keyring.existingKey(subject);
    } catch {
      throw wrong();
    }
  }
  store.setMeta("master-key.check", check);
}

/** MASTER_KEY, or on the local default a key generated once beside the database (with a warning). */
export function loadMasterKey(env: Env, warn: (message: string) => void): Buffer {
  if (env.MASTER_KEY) return Buffer.from(env.MASTER_KEY.replace(/^0x/, ""), "hex");
  const dir = dirname(databasePathOf(env));
  const file = join(dir, "master.key");
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString("hex") + "\n", { mode: 0o600 });
    warn(`MASTER_KEY is not set: generated one into ${file}. Set MASTER_KEY from a secret store in production.`);
  }
  return Buffer.from(readFileSync(file, "utf8").trim(), "hex");
}
