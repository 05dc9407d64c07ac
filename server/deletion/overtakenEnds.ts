import type Database from "better-sqlite3";
import type { ChainEvent } from "../store/types";
import { GRANT_END_JOINS, grantEndColumns } from "./grantEnd";

/**
 * The deletion part of the schema beside the index. Ends that a later event would hide from the
 * scheduler are kept here until it has carried them out, with the block of that event (by_block):
 * a reorganisation that undoes the block forgets them. Deletion orders are keyed by their id
 * alone, as one issuance may end (and be ordered to delete) more than once.
 */
export const DELETION_SCHEMA = `
CREATE TABLE IF NOT EXISTS overtaken_grant_ends (
  subject TEXT NOT NULL, grant_id TEXT NOT NULL, granted_at INTEGER NOT NULL, ended_at INTEGER NOT NULL,
  grantee TEXT NOT NULL, category TEXT NOT NULL, purpose TEXT NOT NULL, reason TEXT NOT NULL,
  by_block INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (subject, grant_id, granted_at, ended_at)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS overtaken_data_expiries (
  subject TEXT NOT NULL, category TEXT NOT NULL, expires_at INTEGER NOT NULL,
  by_block INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (subject, category, expires_at)
) WITHOUT ROWID;
`;

/** Databases whose deletion_orders allowed one order per issuance: rebuilt without that constraint. */
export function migrateDeletionSchema(db: Database.Database): void {
  db.exec(DELETION_SCHEMA);
  // Rows kept before by_block existed count as from blocks no reorganisation will undo.
  for (const overtaken of ["overtaken_grant_ends", "overtaken_data_expiries"]) {
    const columns = db.prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${overtaken}')`).all();
    if (!columns.some((c) => c.name === "by_block")) db.exec(`ALTER TABLE ${overtaken} ADD COLUMN by_block INTEGER NOT NULL DEFAULT 0`);
  }
  const table = db.prepare<[], { sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'deletion_orders'").get();
  if (!table || !/UNIQUE \(subject, grant_id, granted_at\)/.test(table.sql)) return;
  const indexes = db.prepare<[], { sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deletion_orders' AND sql IS NOT NULL").all();
  db.transaction(() => {
    db.exec("ALTER TABLE deletion_orders RENAME TO deletion_orders_old");
    db.exec(table.sql.replace(/,\s*UNIQUE \(subject, grant_id, granted_at\)/, ""));
    db.exec("INSERT INTO deletion_orders SELECT * FROM deletion_orders_old; DROP TABLE deletion_orders_old");
    for (const index of indexes) db.exec(index.sql);
  })();
}

/**
 * Keeps, as the index applies each event, the ends the event would hide from the scheduler: the
 * scheduler reads the index's present state, and deletes only once the chain head's time has passed
 * an instant, so the block that passes an instant may also be the one that replaces what ended
 * there (a grant issued again, a data expiry cleared or moved, a cutoff moved). Also lets a grant
 * that a cleared data expiry revives end, and be ordered, again.
 */
type Params = { subject: string; key: string | null; t: number; block: number };

export class OvertakenEnds {
  private readonly s;

  constructor(db: Database.Database) {
    const record = (where: string) =>
      db.prepare<Params>(
        `INSERT OR IGNORE INTO overtaken_grant_ends (subject, grant_id, granted_at, ended_at, grantee, category, purpose, reason, by_block)
         SELECT subject, grantId, grantedAt, endedAt, grantee, category, purpose, reason, @block FROM (
           SELECT ${grantEndColumns("@t")} FROM grants g ${GRANT_END_JOINS}
           WHERE g.subject = @subject AND ${where} AND g.end_handled = 0)
         WHERE endedAt <= @t`,
      );
    this.s = {
      // A grant issued again: whatever ended the issuance it replaces.
      beforeIssue: record("g.grant_id = @key"),
      // A cutoff moved: the grants the old one ended.
      beforeCutoff: record("g.grantee = @key AND c.revoked_at IS NOT NULL AND g.granted_at <= c.revoked_at"),
      // A data expiry changed: the grants it ended, and the expiry itself once it fell due.
      beforeDataExpiry: record("g.category = @key AND d.expires_at != 0 AND d.expires_at <= @t"),
      dataExpiryFellDue: db.prepare<Params>(
        `INSERT OR IGNORE INTO overtaken_data_expiries (subject, category, expires_at, by_block)
         SELECT d.subject, d.category, d.expires_at, @block FROM data_expiries d
         WHERE d.subject = @subject AND d.category = @key AND d.expires_at != 0 AND d.expires_at <= @t AND NOT EXISTS (
           SELECT 1 FROM handled_data_expiries h WHERE h.subject = d.subject AND h.category = d.category AND h.expires_at = d.expires_at)`,
      ),
      // Clearing or moving a data expiry that fell due revives every grant it alone had ended.
      revive: db.prepare<Omit<Params, "block">>(
        `UPDATE grants SET end_handled = 0 WHERE subject = @subject AND category = @key AND end_handled = 1 AND expires_at > @t
           AND EXISTS (SELECT 1 FROM data_expiries d WHERE d.subject = @subject AND d.category = @key AND d.expires_at != 0 AND d.expires_at <= @t)
           AND NOT EXISTS (SELECT 1 FROM cutoffs c WHERE c.subject = grants.subject AND c.grantee = grants.grantee AND grants.granted_at <= c.revoked_at)`,
      ),
      forgetGrantEndsAfter: db.prepare<[number]>("DELETE FROM overtaken_grant_ends WHERE by_block > ?"),
      forgetDataExpiriesAfter: db.prepare<[number]>("DELETE FROM overtaken_data_expiries WHERE by_block > ?"),
    };
  }

  /** Runs before the index applies `event`, while the state it replaces is still there. */
  beforeEvent(event: ChainEvent): void {
    const [t, block] = [event.blockTime, event.blockNumber];
    switch (event.kind) {
      case "issued":
        this.s.beforeIssue.run({ subject: event.subject, key: event.grantId, t, block });
        break;
      case "allRevoked":
        this.s.beforeCutoff.run({ subject: event.subject, key: event.grantee, t, block });
        break;
      case "dataExpiry": {
        const params = { subject: event.subject, key: event.category, t };
        this.s.beforeDataExpiry.run({ ...params, block });
        this.s.dataExpiryFellDue.run({ ...params, block });
        // A new value is in the future (the registry refuses others) or 0: it revives.
        this.s.revive.run(params);
        break;
      }
    }
  }

  /**
   * Forgets the ends that events after `blockNumber` hid, as a reorganisation undoes those events:
   * the chain that won may never have passed them (the rebuilt state holds any end it did pass).
   */
  rollbackTo(blockNumber: number): void {
    this.s.forgetGrantEndsAfter.run(blockNumber);
    this.s.forgetDataExpiriesAfter.run(blockNumber);
  }
}
