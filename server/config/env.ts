import { join } from "node:path";
import { z } from "zod";
import { ADDRESS } from "../../core/ids";

const address = z.string().regex(ADDRESS, "must be a 0x-prefixed 20-byte hex address");
const addressList = z
  .string()
  .default("")
  .transform((value) => value.split(",").map((a) => a.trim()).filter(Boolean))
  .pipe(z.array(address))
  .transform((list) => list.map((a) => a.toLowerCase()));
const urlList = z
  .string()
  .default("")
  .transform((value) => value.split(",").map((u) => u.trim()).filter(Boolean))
  .pipe(z.array(z.string().url()));
const hex32 = z.string().regex(/^(0x)?[0-9a-fA-F]{64}$/, "must be 32 bytes of hex");

/** Every environment variable the gateway reads, with its default. The README lists the same. */
export const envSchema = z.object({
  HOST: z.string().default("127.0.0.1"),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** The origin wallets sign in to (SIWE `domain`); defaults to HOST:PORT. */
  PUBLIC_ORIGIN: z.string().url().optional(),
  RPC_URL: z.string().url().default("http://127.0.0.1:8545"),
  /** Further endpoints of the same chain, comma-separated: their heads must agree with RPC_URL's. */
  RPC_URLS: urlList,
  /** How many blocks apart the endpoints' heads may be before the gateway fails closed. */
  RPC_MAX_HEAD_SPREAD: z.coerce.number().int().min(0).max(1000).default(3),
  CHAIN_ID: z.coerce.number().int().positive().default(31337),
  DEPLOYMENT_FILE: z.string().optional(),
  CONFIRMATIONS: z.coerce.number().int().min(0).max(1000).default(0),
  MAX_INDEX_LAG: z.coerce.number().int().min(0).default(2),
  /** How old the last successful read of the head may be: the window a node that stops answering leaves open (20 polls at the default interval). */
  MAX_INDEX_AGE_MS: z.coerce.number().int().positive().default(1000),
  /**
   * The oldest chain head (by its block time, against the wall clock) a release may be decided on.
   * It is the log's staleness window, registered for the log on AuditAnchor, which the auditor holds
   * every release to; the gateway refuses to start with a longer one than the log's.
   */
  MAX_HEAD_AGE_SECONDS: z.coerce.number().int().positive().max(86_400).default(30),
  /** How far the wall clock and the chain head's time may drift apart before /metrics and the log say so. */
  MAX_CLOCK_SKEW_SECONDS: z.coerce.number().int().positive().default(30),
  POLL_INTERVAL_MS: z.coerce.number().int().positive().default(50),
  LOG_PAGE_BLOCKS: z.coerce.number().int().positive().default(2000),
  DATA_DIR: z.string().default("./data"),
  DATABASE_PATH: z.string().optional(),
  MASTER_KEY: hex32.optional(),
  GATEWAY_PRIVATE_KEY: hex32.optional(),
  /** The key that anchors checkpoints on AuditAnchor; kept apart from the relaying key (npm start alone defaults it to that). */
  ANCHOR_PRIVATE_KEY: hex32.optional(),
  /** C2SP tlog-witness endpoints, comma-separated, that each checkpoint is sent to for cosigning. */
  WITNESS_URLS: urlList,
  /** How long the gateway waits for one witness's answer before it gives up on that checkpoint. */
  WITNESS_TIMEOUT_MS: z.coerce.number().int().positive().max(60_000).default(5000),
  OPERATOR_ADDRESSES: addressList,
  AUDITOR_ADDRESSES: addressList,
  TOKEN_TTL_SECONDS: z.coerce.number().int().positive().max(86_400).default(900),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(6000),
  BODY_LIMIT: z.string().default("64kb"),
  /** The deepest nesting of arrays and objects a JSON body may have. */
  JSON_MAX_DEPTH: z.coerce.number().int().min(2).max(1000).default(64),
  /** How long one request may take to arrive, headers and body: a client that stalls is answered 408. */
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** Bearer token that /metrics asks for; without it /metrics is not served. */
  METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  SCHEDULER_INTERVAL_MS: z.coerce.number().int().positive().default(100),
  OUTBOX_INTERVAL_MS: z.coerce.number().int().positive().default(200),
  OUTBOX_MAX_ATTEMPTS: z.coerce.number().int().positive().max(100).default(8),
  OUTBOX_BASE_DELAY_MS: z.coerce.number().int().positive().default(1000),
  OUTBOX_TIMEOUT_MS: z.coerce.number().int().positive().default(5000),
  CHECKPOINT_INTERVAL_MS: z.coerce.number().int().positive().default(1000),
  ANCHOR_INTERVAL_MS: z.coerce.number().int().positive().default(60_000),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type Env = Readonly<z.infer<typeof envSchema>>;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Validates the environment once; the result is frozen. Throws ConfigError naming each bad variable. */
export function parseEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
  }
  return Object.freeze(parsed.data);
}

/** Where services and the wallet page reach this gateway, as it tells them. */
export const publicUrlOf = (env: Env): string => env.PUBLIC_ORIGIN ?? `http://${env.HOST}:${env.PORT}`;

/** The gateway's SQLite file. */
export const databasePathOf = (env: Env): string => env.DATABASE_PATH ?? join(env.DATA_DIR, "gateway.sqlite");
