import Database from "better-sqlite3";
import { mkdirSync, closeSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { ZERO_HASH, encodeEntry, type AuditEntry } from "../../core/auditEntry";
import { nodeHasher } from "../../core/merkleTree";
import { WalSync } from "./walSync";
import { PairCache } from "./pairCache";
import { OvertakenEnds, migrateDeletionSchema } from "../deletion/overtakenEnds";
import type {
  AccessLogEntry,
  AnchorRecord,
  SignedCheckpoint,
  ChainEvent,
  GrantFilter,
  IndexCursor,
  IndexPage,
  IndexedCutoff,
  IndexedDataExpiry,
  IndexedGrant,
  StoredAccessLogEntry,
  StoredRecord,
  Store,
} from "./types";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chain_events (
  block_number INTEGER NOT NULL, log_index INTEGER NOT NULL, block_hash TEXT NOT NULL, block_time INTEGER NOT NULL,
  tx_hash TEXT NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL, grantee TEXT, grant_id TEXT, category TEXT,
  purpose TEXT, expires_at INTEGER, previous_expires_at INTEGER,
  PRIMARY KEY (block_number, log_index)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS chain_events_subject ON chain_events (subject, block_number);
CREATE TABLE IF NOT EXISTS grants (
  subject TEXT NOT NULL, grant_id TEXT NOT NULL, grantee TEXT NOT NULL, category TEXT NOT NULL, purpose TEXT NOT NULL,
  granted_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, previous_expires_at INTEGER NOT NULL,
  issued_block INTEGER NOT NULL, block_number INTEGER NOT NULL, tx_hash TEXT NOT NULL,
  end_handled INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (subject, grant_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS grants_grantee ON grants (grantee);
CREATE TABLE IF NOT EXISTS cutoffs (
  subject TEXT NOT NULL, grantee TEXT NOT NULL, revoked_at INTEGER NOT NULL, block_number INTEGER NOT NULL,
  pending INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (subject, grantee)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS data_expiries (
  subject TEXT NOT NULL, category TEXT NOT NULL, expires_at INTEGER NOT NULL, previous_expires_at INTEGER NOT NULL,
  block_number INTEGER NOT NULL, pending INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (subject, category)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS subject_keys (subject TEXT PRIMARY KEY, wrapped BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS records (
  subject TEXT NOT NULL, category TEXT NOT NULL, category_id TEXT NOT NULL, sealed BLOB NOT NULL,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY (subject, category)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS access_log (
  idx INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL, request_id TEXT NOT NULL, actor TEXT,
  subject TEXT, grantee TEXT, category TEXT, purpose TEXT, grant_block INTEGER, grant_tx TEXT, payload_hash TEXT, detail TEXT,
  prev_hash TEXT NOT NULL, leaf_hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
  tree_size INTEGER PRIMARY KEY, root_hash TEXT NOT NULL, origin TEXT NOT NULL, note TEXT NOT NULL,
  signature TEXT NOT NULL, signer TEXT NOT NULL, signed_at INTEGER NOT NULL
);
-- Witnesses' cosignature lines (C2SP tlog-cosignature) on the checkpoint of a tree size.
CREATE TABLE IF NOT EXISTS checkpoint_cosignatures (
  tree_size INTEGER NOT NULL, line TEXT NOT NULL, PRIMARY KEY (tree_size, line)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS anchors (
  tree_size INTEGER PRIMARY KEY, root_hash TEXT NOT NULL, tx_hash TEXT NOT NULL, block_number INTEGER NOT NULL, anchored_at INTEGER NOT NULL
);
-- No query used these; every append paid for them. Dropped from databases that have them.
DROP INDEX IF EXISTS access_log_subject;
DROP INDEX IF EXISTS access_log_grantee;
CREATE INDEX IF NOT EXISTS grants_unhandled ON grants (expires_at) WHERE end_handled = 0;
CREATE TABLE IF NOT EXISTS handled_data_expiries (
  subject TEXT NOT NULL, category TEXT NOT NULL, expires_at INTEGER NOT NULL, handled_at INTEGER NOT NULL,
  PRIMARY KEY (subject, category, expires_at)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS services (
  address TEXT PRIMARY KEY, display_name TEXT NOT NULL, webhook_url TEXT, updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS deletion_orders (
  id TEXT PRIMARY KEY, subject TEXT NOT NULL, grantee TEXT NOT NULL, category TEXT NOT NULL, purpose TEXT NOT NULL,
  grant_id TEXT NOT NULL, granted_at INTEGER NOT NULL, reason TEXT NOT NULL, ended_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL,
  last_error TEXT, delivered_at INTEGER, acknowledged_at INTEGER, ack_signature TEXT
);
-- Grant issuances that a reorganisation removed from the chain while their end was not handled:
-- the service may hold data released under them, so each wants a deletion order.
CREATE TABLE IF NOT EXISTS vanished_grants (
  subject TEXT NOT NULL, grant_id TEXT NOT NULL, grantee TEXT NOT NULL, category TEXT NOT NULL, purpose TEXT NOT NULL,
  granted_at INTEGER NOT NULL, vanished_at INTEGER NOT NULL,
  PRIMARY KEY (subject, grant_id, granted_at)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_category_id ON records (subject, category_id);
CREATE INDEX IF NOT EXISTS deletion_orders_due ON deletion_orders (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS deletion_orders_subject ON deletion_orders (subject);
CREATE INDEX IF NOT EXISTS deletion_orders_grantee ON deletion_orders (grantee);
`;

/**
 * A cutoff or data expiry is `pending` from its last change until the expiry scheduler has ended
 * every grant it ends. The scheduler reads pending ones and grants due by time through these
 * indexes: one query over every live grant took 200 ms at 100,000 grants, ten times a second.
 */
const PENDING_SCHEMA = `
CREATE INDEX IF NOT EXISTS cutoffs_pending ON cutoffs (revoked_at) WHERE pending = 1;
CREATE INDEX IF NOT EXISTS data_expiries_pending ON data_expiries (expires_at) WHERE pending = 1;
`;

/** Databases made before `pending` existed: every row starts pending, so the scheduler looks at each once. */
function addPendingColumns(db: Database.Database): void {
  for (const table of ["cutoffs", "data_expiries"]) {
    const columns = db.prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${table}')`).all();
    if (!columns.some((c) => c.name === "pending")) db.exec(`ALTER TABLE ${table} ADD COLUMN pending INTEGER NOT NULL DEFAULT 1`);
  }
}

/** Databases made before checkpoints were signed notes: their checkpoints keep a null signed note. */
function addSignedNoteColumn(db: Database.Database): void {
  const columns = db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('checkpoints')").all();
  if (!columns.some((c) => c.name === "signed_note")) db.exec("ALTER TABLE checkpoints ADD COLUMN signed_note TEXT");
}

const LOG_SIZE_SQL = "SELECT COALESCE(MAX(idx) + 1, 0) AS n FROM access_log";

/** The size of the access log in a gateway's database file, read without opening it for writing. */
export function readLogSize(databaseFile: string): number {
  const db = new Database(databaseFile, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(LOG_SIZE_SQL).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** 0x-hex of a hash, without ethers' byte-by-byte hexlify: appends do this for every entry. */
const toHex = (bytes: Uint8Array) => "0x" + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");

interface GrantRow {
  subject: string;
  grant_id: string;
  grantee: string;
  category: string;
  purpose: string;
  granted_at: number;
  expires_at: number;
  previous_expires_at: number;
  issued_block: number;
  block_number: number;
  tx_hash: string;
  end_handled: number;
}

const toGrant = (row: GrantRow): IndexedGrant => ({
  subject: row.subject,
  grantId: row.grant_id,
  grantee: row.grantee,
  category: row.category,
  purpose: row.purpose,
  grantedAt: row.granted_at,
  expiresAt: row.expires_at,
  previousExpiresAt: row.previous_expires_at,
  issuedBlock: row.issued_block,
  blockNumber: row.block_number,
  txHash: row.tx_hash,
});

interface RecordRow {
  subject: string;
  category: string;
  category_id: string;
  sealed: Buffer;
  created_at: number;
  updated_at: number;
}

const toRecord = (row: RecordRow): StoredRecord => ({
  subject: row.subject,
  category: row.category,
  categoryId: row.category_id,
  sealed: row.sealed,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

interface LogRow {
  idx: number;
  at: number;
  kind: string;
  request_id: string;
  actor: string | null;
  subject: string | null;
  grantee: string | null;
  category: string | null;
  purpose: string | null;
  grant_block: number | null;
  grant_tx: string | null;
  payload_hash: string | null;
  detail: string | null;
  prev_hash: string;
}

const toLogEntry = (row: LogRow): StoredAccessLogEntry => ({
  index: row.idx,
  at: row.at,
  kind: row.kind,
  requestId: row.request_id,
  actor: row.actor,
  subject: row.subject,
  grantee: row.grantee,
  category: row.category,
  purpose: row.purpose,
  grantBlock: row.grant_block,
  grantTx: row.grant_tx,
  payloadHash: row.payload_hash,
  detail: row.detail === null ? null : (JSON.parse(row.detail) as Record<string, unknown>),
  prevHash: row.prev_hash,
});

interface CheckpointRow { tree_size: number; root_hash: string; origin: string; note: string; signature: string; signer: string; signed_at: number; signed_note: string | null }
const toCheckpoint = (r: CheckpointRow, cosignatures: string[]): SignedCheckpoint => ({
  treeSize: r.tree_size, rootHash: r.root_hash, origin: r.origin, note: r.note, signature: r.signature, signer: r.signer, signedAt: r.signed_at,
  signedNote: r.signed_note, cosignatures,
});
interface AnchorRow { tree_size: number; root_hash: string; tx_hash: string; block_number: number; anchored_at: number }
const toAnchor = (r: AnchorRow): AnchorRecord => ({ treeSize: r.tree_size, rootHash: r.root_hash, txHash: r.tx_hash, blockNumber: r.block_number, anchoredAt: r.anchored_at });

const recordKey = (subject: string, category: string) => `${subject}\n${category}`;

/**
 * The SQLite store (better-sqlite3, WAL). `synchronous = FULL` makes every committed transaction
 * durable before the call returns, except appendLogDurably's, which are durable when its promise
 * resolves; `secure_delete` overwrites deleted content.
 */
export class SqliteStore implements Store {
  readonly db: Database.Database;
  private readonly statements;
  private readonly inTransaction: (fn: () => unknown) => unknown;
  /** Syncs what appendLogDurably commits; none for an in-memory database. */
  private readonly wal: WalSync | null;
  /** The first I/O error of this connection's transactions: for good, as a failed sync is (WalSync.failed). */
  private ioFailure: Error | null = null;
  /** Ends an event is about to hide from the expiry scheduler, kept for it. */
  private readonly overtaken: OvertakenEnds;

  constructor(readonly path: string) {
    if (path !== ":memory:") {
      mkdirSync(dirname(path), { recursive: true });
      // Created for its owner alone: SQLite gives its -wal and -shm files the database file's mode.
      closeSync(openSync(path, "a", 0o600));
    }
    this.db = new Database(path);
    // The access log's writer thread is a second connection to this file: each waits while the other
    // holds the write lock (from its own schema set-up on), and every write transaction takes that
    // lock when it begins (IMMEDIATE below): a deferred one that read first would fail with
    // SQLITE_BUSY_SNAPSHOT once the other had committed.
    this.db.pragma("busy_timeout = 5000");
    this.wal = path === ":memory:" ? null : new WalSync(path);
    // 16 KiB pages for a new database (an existing one keeps its own): index rows of ~400 bytes
    // are less than 1/20 of a page, where SQLite's B-trees work best; catch-up ran ~1.4x faster.
    this.db.pragma("page_size = 16384");
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL");
    this.db.pragma("secure_delete = ON");
    this.db.pragma("foreign_keys = ON");
    // 64 MiB of page cache, and a checkpoint every 2,500 pages of WAL (40 MiB at 16 KiB) rather than
    // every 1,000: index writes land all over the grants B-tree, and each checkpoint rewrites every
    // page dirtied since the last one, so rarer checkpoints write a page once where they wrote it
    // several times.
    this.db.pragma("cache_size = -65536");
    this.db.pragma("wal_autocheckpoint = 2500");
    this.db.exec(SCHEMA);
    addPendingColumns(this.db);
    addSignedNoteColumn(this.db);
    this.db.exec(PENDING_SCHEMA);
    migrateDeletionSchema(this.db);
    this.overtaken = new OvertakenEnds(this.db);
    // One wrapper for every call: better-sqlite3 builds a new one per db.transaction().
    this.inTransaction = this.db.transaction((fn: () => unknown) => fn()).immediate;
    const db = this.db;
    this.statements = {
      getMeta: db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE key = ?"),
      setMeta: db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
      insertBlock: db.prepare("INSERT OR REPLACE INTO blocks (number, hash) VALUES (?, ?)"),
      recentBlocks: db.prepare<[number], { number: number; hash: string }>("SELECT number, hash FROM blocks ORDER BY number DESC LIMIT ?"),
      pruneBlocks: db.prepare("DELETE FROM blocks WHERE number < ?"),
      insertEvent: db.prepare(
        `INSERT OR IGNORE INTO chain_events (block_number, log_index, block_hash, block_time, tx_hash, kind, subject, grantee, grant_id, category, purpose, expires_at, previous_expires_at)
         VALUES (@blockNumber, @logIndex, @blockHash, @blockTime, @txHash, @kind, @subject, @grantee, @grantId, @category, @purpose, @expiresAt, @previousExpiresAt)`,
      ),
      issueGrant: db.prepare(
        `INSERT INTO grants (subject, grant_id, grantee, category, purpose, granted_at, expires_at, previous_expires_at, issued_block, block_number, tx_hash)
         VALUES (@subject, @grantId, @grantee, @category, @purpose, @blockTime, @expiresAt, @expiresAt, @blockNumber, @blockNumber, @txHash)
         ON CONFLICT (subject, grant_id) DO UPDATE SET granted_at = excluded.granted_at, expires_at = excluded.expires_at,
           previous_expires_at = excluded.previous_expires_at, issued_block = excluded.issued_block,
           block_number = excluded.block_number, tx_hash = excluded.tx_hash, end_handled = 0`,
      ),
      changeGrant: db.prepare(
        `UPDATE grants SET expires_at = @expiresAt, previous_expires_at = @previousExpiresAt, block_number = @blockNumber, tx_hash = @txHash
         WHERE subject = @subject AND grant_id = @grantId`,
      ),
      revokeGrant: db.prepare(
        `UPDATE grants SET previous_expires_at = expires_at, expires_at = 0, block_number = @blockNumber, tx_hash = @txHash
         WHERE subject = @subject AND grant_id = @grantId`,
      ),
      setCutoff: db.prepare(
        `INSERT INTO cutoffs (subject, grantee, revoked_at, block_number) VALUES (@subject, @grantee, @blockTime, @blockNumber)
         ON CONFLICT (subject, grantee) DO UPDATE SET revoked_at = excluded.revoked_at, block_number = excluded.block_number, pending = 1`,
      ),
      setDataExpiry: db.prepare(
        `INSERT INTO data_expiries (subject, category, expires_at, previous_expires_at, block_number)
         VALUES (@subject, @category, @expiresAt, @previousExpiresAt, @blockNumber)
         ON CONFLICT (subject, category) DO UPDATE SET expires_at = excluded.expires_at,
           previous_expires_at = excluded.previous_expires_at, block_number = excluded.block_number, pending = 1`,
      ),
      // A grant issued under a cutoff or a data expiry that has passed ends at once: both look again.
      // Bound by position: these run for every grant issued, and binding from the event by name cost more than the lookup.
      // An issuance a reorganisation removed that the chain that won holds again: nothing vanished.
      issuanceReturned: db.prepare<[string, string | null, number]>("DELETE FROM vanished_grants WHERE subject = ? AND grant_id = ? AND granted_at = ?"),
      cutoffPending: db.prepare<[string, string | null]>("UPDATE cutoffs SET pending = 1 WHERE subject = ? AND grantee = ? AND pending = 0"),
      dataExpiryPending: db.prepare<[string, string | null]>("UPDATE data_expiries SET pending = 1 WHERE subject = ? AND category = ? AND pending = 0"),
      getGrant: db.prepare<[string, string], GrantRow>("SELECT * FROM grants WHERE subject = ? AND grant_id = ?"),
      // The state as of a block, from the events kept for reorganisations: asked only while a change is unconfirmed.
      grantExpiryAt: db.prepare<[string, string, number], { expires_at: number }>(
        `SELECT expires_at FROM chain_events WHERE subject = ? AND grant_id = ? AND kind IN ('issued', 'changed') AND block_number <= ?
         ORDER BY block_number DESC, log_index DESC LIMIT 1`,
      ),
      dataExpiryAt: db.prepare<[string, string, number], { expires_at: number }>(
        `SELECT expires_at FROM chain_events WHERE subject = ? AND category = ? AND kind = 'dataExpiry' AND block_number <= ?
         ORDER BY block_number DESC, log_index DESC LIMIT 1`,
      ),
      getCutoff: db.prepare<[string, string], { revoked_at: number; block_number: number }>(
        "SELECT revoked_at, block_number FROM cutoffs WHERE subject = ? AND grantee = ?",
      ),
      getDataExpiry: db.prepare<[string, string], { expires_at: number; previous_expires_at: number; block_number: number }>(
        "SELECT expires_at, previous_expires_at, block_number FROM data_expiries WHERE subject = ? AND category = ?",
      ),
      getWrappedKey: db.prepare<[string], { wrapped: Buffer }>("SELECT wrapped FROM subject_keys WHERE subject = ?"),
      putWrappedKey: db.prepare("INSERT OR REPLACE INTO subject_keys (subject, wrapped) VALUES (?, ?)"),
      deleteWrappedKey: db.prepare("DELETE FROM subject_keys WHERE subject = ?"),
      getRecord: db.prepare<[string, string], RecordRow>(
        "SELECT * FROM records WHERE subject = ? AND category = ?",
      ),
      insertRecord: db.prepare(
        `INSERT INTO records (subject, category, category_id, sealed, created_at, updated_at) VALUES (@subject, @category, @categoryId, @sealed, @createdAt, @updatedAt)
         ON CONFLICT (subject, category) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at`,
      ),
      listRecords: db.prepare<[string], RecordRow>(
        "SELECT * FROM records WHERE subject = ? ORDER BY category",
      ),
      deleteRecords: db.prepare("DELETE FROM records WHERE subject = ? AND category = ?"),
      countRecords: db.prepare<[string], { n: number }>("SELECT COUNT(*) AS n FROM records WHERE subject = ?"),
      appendLog: db.prepare<[number, number, string, string, ...(string | number | Uint8Array | null)[]]>(
        `INSERT INTO access_log (idx, at, kind, request_id, actor, subject, grantee, category, purpose, grant_block, grant_tx, payload_hash, detail, prev_hash, leaf_hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      logSize: db.prepare<[], { n: number }>(LOG_SIZE_SQL),
      logTail: db.prepare<[], { idx: number; leaf_hash: Buffer }>("SELECT idx, leaf_hash FROM access_log ORDER BY idx DESC LIMIT 1"),
      leafHashes: db.prepare<[number, number], { leaf_hash: Buffer }>("SELECT leaf_hash FROM access_log WHERE idx >= ? AND idx < ? ORDER BY idx"),
      latestCheckpoint: db.prepare<[], CheckpointRow>("SELECT * FROM checkpoints ORDER BY tree_size DESC LIMIT 1"),
      listCheckpoints: db.prepare<[number, number], CheckpointRow>("SELECT * FROM checkpoints WHERE tree_size >= ? ORDER BY tree_size LIMIT ?"),
      saveCheckpoint: db.prepare(
        `INSERT INTO checkpoints (tree_size, root_hash, origin, note, signature, signer, signed_at, signed_note)
         VALUES (@treeSize, @rootHash, @origin, @note, @signature, @signer, @signedAt, @signedNote)`,
      ),
      cosignaturesIn: db.prepare<[number, number], { tree_size: number; line: string }>(
        "SELECT tree_size, line FROM checkpoint_cosignatures WHERE tree_size >= ? AND tree_size <= ? ORDER BY tree_size, line",
      ),
      addCosignature: db.prepare<[number, string]>("INSERT OR IGNORE INTO checkpoint_cosignatures (tree_size, line) VALUES (?, ?)"),
      latestAnchor: db.prepare<[], AnchorRow>("SELECT * FROM anchors ORDER BY tree_size DESC LIMIT 1"),
      saveAnchor: db.prepare(
        "INSERT OR REPLACE INTO anchors (tree_size, root_hash, tx_hash, block_number, anchored_at) VALUES (@treeSize, @rootHash, @txHash, @blockNumber, @anchoredAt)",
      ),
      readLog: db.prepare<[number, number], LogRow>("SELECT * FROM access_log WHERE idx >= ? AND idx < ? ORDER BY idx"),
      readLogFor: db.prepare<[number, number, string, string, string], LogRow>(
        "SELECT * FROM access_log WHERE idx >= ? AND idx < ? AND (subject = ? OR grantee = ? OR actor = ?) ORDER BY idx",
      ),
    };
  }

  /**
   * Read-through caches of the decision's three lookups (null remembered too). Every write to the
   * index goes through applyEvent, rollbackTo or resetIndex, which invalidate them.
   */
  private static readonly CACHE_LIMIT = 200_000;
  private readonly grantCache = new PairCache<IndexedGrant | null>(SqliteStore.CACHE_LIMIT);
  private readonly cutoffCache = new PairCache<IndexedCutoff | null>(SqliteStore.CACHE_LIMIT);
  private readonly dataExpiryCache = new PairCache<IndexedDataExpiry | null>(SqliteStore.CACHE_LIMIT);
  private readonly recordCache = new Map<string, StoredRecord | null>();
  private recordCacheBytes = 0;
  private static readonly RECORD_CACHE_BYTES = 32 << 20;

  private invalidateCaches(): void {
    this.grantCache.clear();
    this.cutoffCache.clear();
    this.dataExpiryCache.clear();
  }

  transaction<T>(fn: () => T): T {
    try {
      return this.inTransaction(fn) as T;
    } catch (error) {
      if (/^SQLITE_IOERR/.test((error as { code?: string }).code ?? "")) {
        this.ioFailure ??= new Error(`the access log could not be written to disk: ${(error as Error).message}`, { cause: error });
      }
      throw error;
    }
  }

  /** Why no append may be called durable any more: an I/O error or a failed sync, each for good (see WalSync). */
  private get durabilityLost(): Error | null {
    return this.ioFailure ?? this.wal?.failed ?? null;
  }

  close(): void {
    this.wal?.close();
    this.db.close();
  }

  // ------------------------------------------------------------------ index

  getCursor(): IndexCursor | null {
    const number = this.getMeta("cursor.block");
    const hash = this.getMeta("cursor.hash");
    return number === null || hash === null ? null : { blockNumber: Number(number), blockHash: hash };
  }

  recentBlockHashes(limit: number): IndexCursor[] {
    return this.statements.recentBlocks.all(limit).map((row) => ({ blockNumber: row.number, blockHash: row.hash }));
  }

  applyPages(pages: IndexPage[]): void {
    if (pages.length === 0) return;
    this.transaction(() => {
      for (const page of pages) {
        for (const event of page.events) {
          if (this.statements.insertEvent.run(event).changes === 1) this.applyEvent(event);
        }
        for (const block of page.blockHashes) this.statements.insertBlock.run(block.blockNumber, block.blockHash);
      }
      const cursor = pages[pages.length - 1].cursor;
      this.statements.insertBlock.run(cursor.blockNumber, cursor.blockHash);
      // Reorganisations deeper than this many blocks are beyond any chain's finality.
      this.statements.pruneBlocks.run(cursor.blockNumber - 4096);
      this.setMeta("cursor.block", String(cursor.blockNumber));
      this.setMeta("cursor.hash", cursor.blockHash);
    });
  }

  /** Mirrors DataUseRegistry's state transitions for one event. */
  private applyEvent(event: ChainEvent): void {
    this.grantCache.delete(event.subject, event.grantId);
    this.cutoffCache.delete(event.subject, event.grantee);
    this.dataExpiryCache.delete(event.subject, event.category);
    this.overtaken.beforeEvent(event);
    switch (event.kind) {
      case "issued":
        this.statements.issueGrant.run(event);
        this.statements.issuanceReturned.run(event.subject, event.grantId, event.blockTime);
        this.statements.cutoffPending.run(event.subject, event.grantee);
        this.statements.dataExpiryPending.run(event.subject, event.category);
        break;
      case "changed":
        this.statements.changeGrant.run(event);
        break;
      case "revoked":
        this.statements.revokeGrant.run(event);
        break;
      case "allRevoked":
        this.statements.setCutoff.run(event);
        break;
      case "dataExpiry":
        this.statements.setDataExpiry.run(event);
        break;
    }
  }

  rollbackTo(blockNumber: number): number {
    this.invalidateCaches();
    return this.transaction(() => {
      const undone = this.db
        .prepare<[number], { subject: string; grantee: string | null; grant_id: string | null; category: string | null; kind: string }>(
          "SELECT subject, grantee, grant_id, category, kind FROM chain_events WHERE block_number > ?",
        )
        .all(blockNumber);
      this.db.prepare("DELETE FROM chain_events WHERE block_number > ?").run(blockNumber);
      this.overtaken.rollbackTo(blockNumber);
      this.db.prepare("DELETE FROM blocks WHERE number > ?").run(blockNumber);
      // Rebuild every piece of state an undone event touched from the events that remain.
      const replay = this.db.prepare<[string, string, string, string, string], Record<string, unknown>>(
        `SELECT block_number AS blockNumber, log_index AS logIndex, block_hash AS blockHash, block_time AS blockTime, tx_hash AS txHash,
                kind, subject, grantee, grant_id AS grantId, category, purpose, expires_at AS expiresAt, previous_expires_at AS previousExpiresAt
         FROM chain_events WHERE subject = ? AND kind IN (SELECT value FROM json_each(?)) AND (grant_id = ? OR grantee = ? OR category = ?)
         ORDER BY block_number, log_index`,
      );
      const seen = new Set<string>();
      for (const event of undone) {
        const [kinds, key, remove] =
          event.kind === "allRevoked"
            ? [["allRevoked"], event.grantee!, "DELETE FROM cutoffs WHERE subject = ? AND grantee = ?"]
            : event.kind === "dataExpiry"
              ? [["dataExpiry"], event.category!, "DELETE FROM data_expiries WHERE subject = ? AND category = ?"]
              : [["issued", "changed", "revoked"], event.grant_id!, "DELETE FROM grants WHERE subject = ? AND grant_id = ?"];
        // Each piece of state is removed and rebuilt once: a second undone event on it must not
        // remove what the first one rebuilt.
        const id = `${event.subject}/${kinds[0]}/${key}`;
        if (seen.has(id)) continue;
        seen.add(id);
        const before = kinds[0] === "issued" ? this.statements.getGrant.get(event.subject, key) : undefined;
        this.db.prepare(remove).run(event.subject, key);
        const remaining = replay.all(event.subject, JSON.stringify(kinds), key, key, key) as unknown as ChainEvent[];
        for (const kept of remaining) {
          const matches = kept.kind === "allRevoked" ? kept.grantee === key : kept.kind === "dataExpiry" ? kept.category === key : kept.grantId === key;
          if (matches) this.applyEvent(kept);
        }
        if (before && before.end_handled === 0) {
          const after = this.statements.getGrant.get(event.subject, key);
          if (!after || after.granted_at !== before.granted_at) {
            this.db
              .prepare("INSERT OR IGNORE INTO vanished_grants (subject, grant_id, grantee, category, purpose, granted_at, vanished_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
              .run(before.subject, before.grant_id, before.grantee, before.category, before.purpose, before.granted_at, Math.floor(Date.now() / 1000));
          }
        }
      }
      const newest = this.recentBlockHashes(1)[0];
      if (newest) {
        this.setMeta("cursor.block", String(newest.blockNumber));
        this.setMeta("cursor.hash", newest.blockHash);
      } else {
        this.db.prepare("DELETE FROM meta WHERE key IN ('cursor.block', 'cursor.hash')").run();
      }
      return undone.length;
    });
  }

  resetIndex(): void {
    this.invalidateCaches();
    this.transaction(() => {
      for (const table of ["chain_events", "grants", "cutoffs", "data_expiries", "blocks"]) this.db.prepare(`DELETE FROM ${table}`).run();
      this.overtaken.rollbackTo(-1);
      this.db.prepare("DELETE FROM meta WHERE key LIKE 'cursor.%'").run();
    });
  }

  getGrant(subject: string, grantId: string): IndexedGrant | null {
    const cached = this.grantCache.get(subject, grantId);
    if (cached !== undefined) return cached;
    const row = this.statements.getGrant.get(subject, grantId);
    return this.grantCache.set(subject, grantId, row ? toGrant(row) : null);
  }

  getCutoff(subject: string, grantee: string): IndexedCutoff | null {
    const cached = this.cutoffCache.get(subject, grantee);
    if (cached !== undefined) return cached;
    const row = this.statements.getCutoff.get(subject, grantee);
    return this.cutoffCache.set(subject, grantee, row ? { revokedAt: row.revoked_at, blockNumber: row.block_number } : null);
  }

  getDataExpiry(subject: string, category: string): IndexedDataExpiry | null {
    const cached = this.dataExpiryCache.get(subject, category);
    if (cached !== undefined) return cached;
    const row = this.statements.getDataExpiry.get(subject, category);
    return this.dataExpiryCache.set(
      subject,
      category,
      row ? { expiresAt: row.expires_at, previousExpiresAt: row.previous_expires_at, blockNumber: row.block_number } : null,
    );
  }

  grantExpiryAt(subject: string, grantId: string, blockNumber: number): number | null {
    return this.statements.grantExpiryAt.get(subject, grantId, blockNumber)?.expires_at ?? null;
  }

  dataExpiryAt(subject: string, category: string, blockNumber: number): number {
    return this.statements.dataExpiryAt.get(subject, category, blockNumber)?.expires_at ?? 0;
  }

  listGrants(filter: GrantFilter): IndexedGrant[] {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: filter.limit, offset: filter.offset };
    for (const column of ["subject", "grantee", "category", "purpose"] as const) {
      if (filter[column] !== undefined) {
        where.push(`g.${column} = @${column}`);
        params[column] = filter[column];
      }
    }
    if (filter.party !== undefined) {
      where.push("(g.subject = @party OR g.grantee = @party)");
      params.party = filter.party;
    }
    if (filter.activeAt !== undefined) {
      where.push("g.expires_at > @activeAt AND g.granted_at > COALESCE(c.revoked_at, 0)");
      params.activeAt = filter.activeAt;
    }
    const sql = `SELECT g.* FROM grants g LEFT JOIN cutoffs c ON c.subject = g.subject AND c.grantee = g.grantee
      ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY g.block_number DESC, g.subject, g.grant_id LIMIT @limit OFFSET @offset`;
    return this.db.prepare<Record<string, unknown>, GrantRow>(sql).all(params).map(toGrant);
  }

  /** Any subject holding a wrapped data key (null when none does). */
  anyKeyedSubject(): string | null {
    return this.db.prepare<[], { subject: string }>("SELECT subject FROM subject_keys LIMIT 1").get()?.subject ?? null;
  }

  getMeta(key: string): string | null {
    return this.statements.getMeta.get(key)?.value ?? null;
  }

  setMeta(key: string, value: string): void {
    this.statements.setMeta.run(key, value);
  }

  // ------------------------------------------------------------------ data

  getWrappedKey(subject: string): Buffer | null {
    return this.statements.getWrappedKey.get(subject)?.wrapped ?? null;
  }

  putWrappedKey(subject: string, wrapped: Buffer): void {
    this.statements.putWrappedKey.run(subject, wrapped);
  }

  deleteWrappedKey(subject: string): void {
    this.statements.deleteWrappedKey.run(subject);
  }

  /**
   * Read through a cache of sealed records (ciphertext only; a miss is remembered too). Records are
   * written only by putRecord and deleteRecords, which evict, never fill: a transaction that rolls
   * back cannot leave the cache ahead of the file.
   */
  getRecord(subject: string, category: string): StoredRecord | null {
    const key = recordKey(subject, category);
    const cached = this.recordCache.get(key);
    if (cached !== undefined) return cached;
    const row = this.statements.getRecord.get(subject, category);
    const record = row ? toRecord(row) : null;
    const size = record?.sealed.length ?? 0;
    if (this.recordCacheBytes + size > SqliteStore.RECORD_CACHE_BYTES || this.recordCache.size >= SqliteStore.CACHE_LIMIT) {
      this.recordCache.clear();
      this.recordCacheBytes = 0;
    }
    if (size <= SqliteStore.RECORD_CACHE_BYTES / 64) {
      this.recordCache.set(key, record);
      this.recordCacheBytes += size;
    }
    return record;
  }

  putRecord(record: StoredRecord): boolean {
    this.recordCache.delete(recordKey(record.subject, record.category));
    const existed = this.statements.getRecord.get(record.subject, record.category) !== undefined;
    this.statements.insertRecord.run(record);
    return !existed;
  }

  listRecords(subject: string): StoredRecord[] {
    return this.statements.listRecords
      .all(subject)
      .map((row) => (toRecord(row)));
  }

  deleteRecords(subject: string, category: string): number {
    this.recordCache.delete(recordKey(subject, category));
    return this.statements.deleteRecords.run(subject, category).changes;
  }

  countRecords(subject: string): number {
    return this.statements.countRecords.get(subject)!.n;
  }

  // ------------------------------------------------------------------ access log

  appendLog(entries: AccessLogEntry[]): number[] {
    if (this.durabilityLost) throw this.durabilityLost;
    // Read inside the transaction, not cached: an enclosing transaction that rolls back leaves no gap.
    return this.transaction(() => {
      const tail = this.statements.logTail.get();
      let next = tail ? tail.idx + 1 : 0;
      let prevHash = tail ? toHex(tail.leaf_hash) : ZERO_HASH;
      const indexes: number[] = [];
      for (const written of entries) {
        const e: AuditEntry = { ...written, index: next, prevHash };
        const leafHash = nodeHasher.leaf(encodeEntry(e));
        const detail = e.detail === null ? null : JSON.stringify(e.detail);
        this.statements.appendLog.run(next, e.at, e.kind, e.requestId, e.actor, e.subject, e.grantee, e.category, e.purpose, e.grantBlock, e.grantTx, e.payloadHash, detail, prevHash, leafHash);
        indexes.push(next);
        prevHash = toHex(leafHash);
        next += 1;
      }
      return indexes;
    });
  }

  appendLogDurably(entries: AccessLogEntry[]): Promise<number[]> {
    if (this.db.inTransaction) throw new Error("appendLogDurably commits on its own: call appendLog inside a transaction");
    if (this.durabilityLost) return Promise.reject(this.durabilityLost);
    // Committed without the fsync that synchronous = FULL does on the event loop; syncLog then
    // writes it to disk from libuv's threads. Other writers keep FULL. (exec, not a prepared
    // statement: SQLite applies some pragmas when a statement is prepared, not each time it runs.)
    this.db.exec("PRAGMA synchronous = NORMAL");
    let indexes: number[];
    try {
      indexes = this.appendLog(entries);
    } finally {
      this.db.exec("PRAGMA synchronous = FULL");
    }
    return this.syncLog().then(() => indexes);
  }

  durableLogSize(): Promise<number> {
    const size = this.logSize();
    return this.syncLog().then(() => size);
  }

  syncLog(): Promise<void> {
    return this.wal ? this.wal.sync() : Promise.resolve();
  }

  readLeafHashes(from: number, to: number): Buffer[] {
    return this.statements.leafHashes.all(from, to).map((r) => r.leaf_hash);
  }

  latestCheckpoint(): SignedCheckpoint | null {
    const row = this.statements.latestCheckpoint.get();
    return row ? this.withCosignatures([row])[0] : null;
  }

  listCheckpoints(fromSize: number, limit: number): SignedCheckpoint[] {
    return this.withCosignatures(this.statements.listCheckpoints.all(fromSize, limit));
  }

  /** Checkpoint rows (in order of size) with their cosignature lines, read in one query. */
  private withCosignatures(rows: CheckpointRow[]): SignedCheckpoint[] {
    if (rows.length === 0) return [];
    const lines = new Map<number, string[]>();
    for (const { tree_size, line } of this.statements.cosignaturesIn.all(rows[0].tree_size, rows[rows.length - 1].tree_size)) {
      const list = lines.get(tree_size);
      if (list) list.push(line);
      else lines.set(tree_size, [line]);
    }
    return rows.map((row) => toCheckpoint(row, lines.get(row.tree_size) ?? []));
  }

  saveCheckpoint(checkpoint: SignedCheckpoint): void {
    this.transaction(() => {
      this.statements.saveCheckpoint.run({ ...checkpoint, signedNote: checkpoint.signedNote ?? null });
      for (const line of checkpoint.cosignatures ?? []) this.statements.addCosignature.run(checkpoint.treeSize, line);
    });
  }

  addCosignatures(treeSize: number, lines: readonly string[]): void {
    this.transaction(() => {
      for (const line of lines) this.statements.addCosignature.run(treeSize, line);
    });
  }

  latestAnchor(): AnchorRecord | null {
    const row = this.statements.latestAnchor.get();
    return row ? toAnchor(row) : null;
  }

  saveAnchor(anchor: AnchorRecord): void {
    this.statements.saveAnchor.run(anchor);
  }

  readLog(from: number, to: number, party?: string): StoredAccessLogEntry[] {
    const rows = party === undefined ? this.statements.readLog.all(from, to) : this.statements.readLogFor.all(from, to, party, party, party);
    return rows.map(toLogEntry);
  }

  logSize(): number {
    return this.statements.logSize.get()!.n;
  }
}
