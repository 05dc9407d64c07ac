import type { AuditEntry } from "../../core/auditEntry";
/**
 * The store's narrow interface: the index of the chain, the subjects' encrypted data and the access
 * log. SQLite implements it now (sqlite.ts); a PostgreSQL implementation can follow.
 */

export type ChainEventKind = "issued" | "changed" | "revoked" | "allRevoked" | "dataExpiry";

/** One DataUseRegistry event, decoded, with where and when it was mined. */
export interface ChainEvent {
  kind: ChainEventKind;
  blockNumber: number;
  blockHash: string;
  blockTime: number;
  txHash: string;
  logIndex: number;
  subject: string;
  grantee: string | null;
  grantId: string | null;
  category: string | null;
  purpose: string | null;
  expiresAt: number | null;
  previousExpiresAt: number | null;
}

/** The indexed state of one grant (ids are lower-case hex, addresses lower-case). */
export interface IndexedGrant {
  subject: string;
  grantId: string;
  grantee: string;
  category: string;
  purpose: string;
  grantedAt: number;
  /** 0 once revoked one by one. */
  expiresAt: number;
  /** The expiry before the latest change, to fall back on while that change is unconfirmed. */
  previousExpiresAt: number;
  issuedBlock: number;
  /** Block and transaction of the latest event about this grant. */
  blockNumber: number;
  txHash: string;
}

export interface IndexedCutoff {
  revokedAt: number;
  blockNumber: number;
}

export interface IndexedDataExpiry {
  expiresAt: number;
  previousExpiresAt: number;
  blockNumber: number;
}

export interface IndexCursor {
  blockNumber: number;
  blockHash: string;
}

export interface GrantFilter {
  subject?: string;
  grantee?: string;
  category?: string;
  purpose?: string;
  /** Only grants whose own record is neither revoked nor past `activeAt`. */
  activeAt?: number;
  /** Restrict to grants where subject or grantee is this address (a caller's own view). */
  party?: string;
  limit: number;
  offset: number;
}

export interface StoredRecord {
  subject: string;
  /** The category's label, e.g. `contact.email`. */
  category: string;
  /** labelToId(category), what the chain speaks of. */
  categoryId: string;
  sealed: Buffer;
  createdAt: number;
  updatedAt: number;
}

/** What a writer gives the log; the store assigns `index` and `prevHash`. */
export type AccessLogEntry = Omit<AuditEntry, "index" | "prevHash">;

export type StoredAccessLogEntry = AuditEntry;

/** A checkpoint the gateway signed: the log's size and root at that moment. */
export interface SignedCheckpoint {
  treeSize: number;
  rootHash: string;
  origin: string;
  note: string;
  signature: string;
  signer: string;
  signedAt: number;
  /**
   * The checkpoint as a C2SP signed note: `note`, a blank line and the log's Ed25519 signature line
   * (key name: the origin; key: the log's note key). Null for checkpoints signed before.
   */
  signedNote?: string | null;
  /** Witnesses' C2SP tlog-cosignature lines on `note` (each without its newline), as collected. */
  cosignatures?: string[];
}

/** A checkpoint anchored through AuditAnchor. */
export interface AnchorRecord {
  treeSize: number;
  rootHash: string;
  txHash: string;
  blockNumber: number;
  anchoredAt: number;
}

/** Registry events read from a range of blocks, the hashes of blocks read, and the range's end. */
export interface IndexPage {
  events: ChainEvent[];
  cursor: IndexCursor;
  blockHashes: IndexCursor[];
}

export interface IndexStore {
  getCursor(): IndexCursor | null;
  /** The stored hashes of indexed blocks, newest first. */
  recentBlockHashes(limit: number): IndexCursor[];
  /** Applies pages of events in order and moves the cursor to the last page's end, atomically. */
  applyPages(pages: IndexPage[]): void;
  /** Undoes everything indexed after `blockNumber` (a reorganisation). */
  rollbackTo(blockNumber: number): number;
  /** Forgets the whole index (a new chain behind the same RPC URL). */
  resetIndex(): void;
  getGrant(subject: string, grantId: string): IndexedGrant | null;
  getCutoff(subject: string, grantee: string): IndexedCutoff | null;
  getDataExpiry(subject: string, category: string): IndexedDataExpiry | null;
  /**
   * The grant's expiry as of `blockNumber` (its latest issue or change at or before it), or null
   * when none: what a change made after that block, not yet confirmed, falls back on.
   */
  grantExpiryAt(subject: string, grantId: string, blockNumber: number): number | null;
  /** The data expiry of (subject, category) as of `blockNumber`; 0 when none was set by then (or it was cleared). */
  dataExpiryAt(subject: string, category: string, blockNumber: number): number;
  listGrants(filter: GrantFilter): IndexedGrant[];
  getMeta(key: string): string | null;
  setMeta(key: string, value: string): void;
}

export interface DataStore {
  getWrappedKey(subject: string): Buffer | null;
  putWrappedKey(subject: string, wrapped: Buffer): void;
  deleteWrappedKey(subject: string): void;
  getRecord(subject: string, category: string): StoredRecord | null;
  /** Inserts or replaces; returns true when the record is new. */
  putRecord(record: StoredRecord): boolean;
  listRecords(subject: string): StoredRecord[];
  deleteRecords(subject: string, category: string): number;
  countRecords(subject: string): number;
}

export interface AccessLogStore {
  /** Appends in one durable transaction, chaining each entry to the one before; returns the indexes assigned, in order. */
  appendLog(entries: AccessLogEntry[]): number[];
  /**
   * Appends as appendLog does, outside any other transaction, and resolves once the entries are on
   * disk: the disk write happens off the event loop and is shared by every append in flight.
   */
  appendLogDurably(entries: AccessLogEntry[]): Promise<number[]>;
  /** Resolves once everything committed before the call is on disk. */
  syncLog(): Promise<void>;
  /** The log's size, once every entry below it is on disk. */
  durableLogSize(): Promise<number>;
  readLog(from: number, to: number, party?: string): StoredAccessLogEntry[];
  /** Stored leaf hashes of entries [from, to), in order. */
  readLeafHashes(from: number, to: number): Buffer[];
  logSize(): number;
  latestCheckpoint(): SignedCheckpoint | null;
  listCheckpoints(fromSize: number, limit: number): SignedCheckpoint[];
  saveCheckpoint(checkpoint: SignedCheckpoint): void;
  /** Adds witnesses' cosignature lines to the checkpoint of `treeSize` (a line already there is kept once). */
  addCosignatures(treeSize: number, lines: readonly string[]): void;
  latestAnchor(): AnchorRecord | null;
  saveAnchor(anchor: AnchorRecord): void;
}

export interface Store extends IndexStore, DataStore, AccessLogStore {
  /** Runs `fn` in one transaction. */
  transaction<T>(fn: () => T): T;
  close(): void;
}
