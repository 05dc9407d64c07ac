import type Database from "better-sqlite3";
import { createHash } from "node:crypto";
import type { IndexedGrant } from "../store/types";
import { GRANT_END_JOINS, grantEndColumns } from "./grantEnd";

export type OrderStatus = "pending" | "delivered" | "acknowledged" | "failed";
export type EndReason = "expired" | "revoked" | "revoked-all" | "data-expired" | "data-deleted" | "reorged";

export interface DeletionOrder {
  id: string;
  subject: string;
  grantee: string;
  /** Category and purpose ids (keccak256 of the labels). */
  category: string;
  purpose: string;
  grantId: string;
  grantedAt: number;
  reason: EndReason;
  endedAt: number;
  createdAt: number;
  status: OrderStatus;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  deliveredAt: number | null;
  acknowledgedAt: number | null;
}

/** A grant whose end has not been handled yet, with what may have ended it. */
export type EndedGrant = Pick<IndexedGrant, "subject" | "grantId" | "grantee" | "category" | "purpose" | "grantedAt"> & {
  reason: EndReason;
  endedAt: number;
  /** For an on-demand deletion: the index of its entry in the access log. */
  deletionIndex?: number;
  /** Kept by the index when a later event hid it (see OvertakenEnds): not the grant's present end. */
  overtaken?: number;
};

export interface DueDataExpiry {
  subject: string;
  categoryId: string;
  expiresAt: number;
}

export interface Service {
  address: string;
  displayName: string;
  webhookUrl: string | null;
  updatedAt: number;
}

/**
 * An order's id: one per end of one issuance (subject, grant, issue time), so the same end always
 * yields the same id and a later end of the same issuance a new one. `end` is the instant a grant
 * stopped being valid, or for an on-demand deletion the index of its entry in the access log.
 */
export function orderIdOf(subject: string, grantId: string, grantedAt: number, end: string): string {
  return createHash("sha256").update(`${subject}|${grantId}|${grantedAt}|${end}`).digest("hex").slice(0, 32);
}

/** What ends the issuance, for its order's id: see {@link orderIdOf}. */
export function endKeyOf(ended: EndedGrant): string {
  if (ended.reason === "data-deleted") return `deletion:${ended.deletionIndex}`;
  if (ended.reason === "reorged") return "reorged";
  return `ended:${ended.endedAt}`;
}

interface OrderRow {
  id: string;
  subject: string;
  grantee: string;
  category: string;
  purpose: string;
  grant_id: string;
  granted_at: number;
  reason: EndReason;
  ended_at: number;
  created_at: number;
  status: OrderStatus;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  delivered_at: number | null;
  acknowledged_at: number | null;
}

const toOrder = (r: OrderRow): DeletionOrder => ({
  id: r.id,
  subject: r.subject,
  grantee: r.grantee,
  category: r.category,
  purpose: r.purpose,
  grantId: r.grant_id,
  grantedAt: r.granted_at,
  reason: r.reason,
  endedAt: r.ended_at,
  createdAt: r.created_at,
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  lastError: r.last_error,
  deliveredAt: r.delivered_at,
  acknowledgedAt: r.acknowledged_at,
});

/** Deletion orders, handled expiries and registered services, in the gateway's SQLite database. */
export class DeletionStore {
  private readonly s;

  constructor(private readonly db: Database.Database) {
    this.s = {
      // Grants due by time (revocations set expires_at to 0), and grants under a pending cutoff or a
      // passed pending data expiry: each part read through its index, never every live grant. The
      // indexes are named: without statistics, SQLite would rather walk grants in key order.
      endedGrants: db.prepare<{ now: number; limit: number }, EndedGrant>(
        `WITH due (subject, grant_id) AS (
           SELECT subject, grant_id FROM grants INDEXED BY grants_unhandled WHERE end_handled = 0 AND expires_at <= @now
           UNION
           SELECT g.subject, g.grant_id FROM cutoffs c INDEXED BY cutoffs_pending CROSS JOIN grants g
           WHERE c.pending = 1 AND g.subject = c.subject AND g.grantee = c.grantee AND g.end_handled = 0 AND g.granted_at <= c.revoked_at
           UNION
           SELECT g.subject, g.grant_id FROM data_expiries d INDEXED BY data_expiries_pending CROSS JOIN grants g
           WHERE d.pending = 1 AND d.expires_at != 0 AND d.expires_at <= @now AND g.subject = d.subject AND g.category = d.category AND g.end_handled = 0)
         SELECT ${grantEndColumns("@now")}
         FROM due JOIN grants g ON g.subject = due.subject AND g.grant_id = due.grant_id
         ${GRANT_END_JOINS}
         ORDER BY endedAt, g.subject, g.grant_id
         LIMIT @limit`,
      ),
      // Whether settle has anything to look at: a read, which never waits on the log's writer.
      pendingToSettle: db
        .prepare<{ now: number }, number>(
          `SELECT EXISTS (SELECT 1 FROM cutoffs INDEXED BY cutoffs_pending WHERE pending = 1)
             OR EXISTS (SELECT 1 FROM data_expiries INDEXED BY data_expiries_pending WHERE pending = 1 AND expires_at <= @now)`,
        )
        .pluck(),
      // Once nothing they end is left: data expiries also wait for their own deletion, and stay
      // pending until they fall due.
      settleCutoffs: db.prepare(
        `UPDATE cutoffs SET pending = 0 WHERE pending = 1 AND NOT EXISTS (
           SELECT 1 FROM grants g WHERE g.subject = cutoffs.subject AND g.grantee = cutoffs.grantee AND g.end_handled = 0 AND g.granted_at <= cutoffs.revoked_at)`,
      ),
      settleDataExpiries: db.prepare<{ now: number }>(
        `UPDATE data_expiries SET pending = 0 WHERE pending = 1 AND expires_at <= @now AND (expires_at = 0 OR (
           NOT EXISTS (SELECT 1 FROM grants g WHERE g.subject = data_expiries.subject AND g.category = data_expiries.category AND g.end_handled = 0)
           AND EXISTS (SELECT 1 FROM handled_data_expiries h
             WHERE h.subject = data_expiries.subject AND h.category = data_expiries.category AND h.expires_at = data_expiries.expires_at)))`,
      ),
      // An issuance the chain lost, unless the chain that won holds the same one again.
      vanishedGrants: db.prepare<{ limit: number }, EndedGrant>(
        `SELECT v.subject, v.grant_id AS grantId, v.grantee, v.category, v.purpose, v.granted_at AS grantedAt, 'reorged' AS reason, v.vanished_at AS endedAt
         FROM vanished_grants v
         WHERE NOT EXISTS (SELECT 1 FROM grants g WHERE g.subject = v.subject AND g.grant_id = v.grant_id AND g.granted_at = v.granted_at)
         ORDER BY v.vanished_at LIMIT @limit`,
      ),
      forgetVanished: db.prepare("DELETE FROM vanished_grants WHERE subject = ? AND grant_id = ? AND granted_at = ?"),
      markHandled: db.prepare("UPDATE grants SET end_handled = 1 WHERE subject = ? AND grant_id = ? AND granted_at = ?"),
      dueDataExpiries: db.prepare<{ now: number; limit: number }, DueDataExpiry>(
        `SELECT d.subject, d.category AS categoryId, d.expires_at AS expiresAt FROM data_expiries d
         WHERE d.pending = 1 AND d.expires_at != 0 AND d.expires_at <= @now AND NOT EXISTS (
           SELECT 1 FROM handled_data_expiries h WHERE h.subject = d.subject AND h.category = d.category AND h.expires_at = d.expires_at)
         ORDER BY d.expires_at LIMIT @limit`,
      ),
      markDataExpiryHandled: db.prepare("INSERT OR IGNORE INTO handled_data_expiries (subject, category, expires_at, handled_at) VALUES (?, ?, ?, ?)"),
      // Ends and data expiries that fell due before a later event replaced them (OvertakenEnds).
      overtakenEnds: db.prepare<{ now: number; limit: number }, EndedGrant>(
        `SELECT subject, grant_id AS grantId, grantee, category, purpose, granted_at AS grantedAt, reason, ended_at AS endedAt, 1 AS overtaken
         FROM overtaken_grant_ends WHERE ended_at <= @now ORDER BY ended_at LIMIT @limit`,
      ),
      forgetOvertakenEnd: db.prepare("DELETE FROM overtaken_grant_ends WHERE subject = ? AND grant_id = ? AND granted_at = ? AND ended_at = ?"),
      overtakenDataExpiries: db.prepare<{ now: number; limit: number }, DueDataExpiry>(
        `SELECT subject, category AS categoryId, expires_at AS expiresAt FROM overtaken_data_expiries WHERE expires_at <= @now ORDER BY expires_at LIMIT @limit`,
      ),
      forgetOvertakenDataExpiry: db.prepare("DELETE FROM overtaken_data_expiries WHERE subject = ? AND category = ? AND expires_at = ?"),
      insertOrder: db.prepare(
        `INSERT OR IGNORE INTO deletion_orders (id, subject, grantee, category, purpose, grant_id, granted_at, reason, ended_at, created_at, status, next_attempt_at)
         VALUES (@id, @subject, @grantee, @category, @purpose, @grantId, @grantedAt, @reason, @endedAt, @createdAt, 'pending', @createdAt)`,
      ),
      getOrder: db.prepare<[string], OrderRow>("SELECT * FROM deletion_orders WHERE id = ?"),
      dueOrders: db.prepare<{ now: number; limit: number }, OrderRow & { webhook_url: string }>(
        `SELECT o.*, s.webhook_url FROM deletion_orders o JOIN services s ON s.address = o.grantee
         WHERE o.status = 'pending' AND o.next_attempt_at <= @now AND s.webhook_url IS NOT NULL
         ORDER BY o.next_attempt_at LIMIT @limit`,
      ),
      delivered: db.prepare("UPDATE deletion_orders SET status = 'delivered', delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ? AND status = 'pending'"),
      retry: db.prepare("UPDATE deletion_orders SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, status = ? WHERE id = ? AND status = 'pending'"),
      acknowledge: db.prepare(
        "UPDATE deletion_orders SET status = 'acknowledged', acknowledged_at = ?, ack_signature = ? WHERE id = ? AND status IN ('pending', 'delivered', 'failed')",
      ),
      putService: db.prepare(
        `INSERT INTO services (address, display_name, webhook_url, updated_at) VALUES (@address, @displayName, @webhookUrl, @updatedAt)
         ON CONFLICT (address) DO UPDATE SET display_name = excluded.display_name, webhook_url = excluded.webhook_url, updated_at = excluded.updated_at`,
      ),
      listServices: db.prepare<[], { address: string; display_name: string; webhook_url: string | null; updated_at: number }>("SELECT * FROM services ORDER BY display_name"),
      categoryLabels: db.prepare<[string, string], { category: string }>("SELECT category FROM records WHERE subject = ? AND category_id = ?"),
      activeGrantsOnCategory: db.prepare<{ subject: string; category: string; now: number }, EndedGrant>(
        `SELECT g.subject, g.grant_id AS grantId, g.grantee, g.category, g.purpose, g.granted_at AS grantedAt, 'data-deleted' AS reason, @now AS endedAt
         FROM grants g LEFT JOIN cutoffs c ON c.subject = g.subject AND c.grantee = g.grantee
         WHERE g.subject = @subject AND g.category = @category AND g.end_handled = 0 AND g.expires_at > @now
           AND (c.revoked_at IS NULL OR g.granted_at > c.revoked_at)`,
      ),
    };
  }

  endedGrants(now: number, limit: number): EndedGrant[] {
    return this.s.endedGrants.all({ now, limit });
  }

  /**
   * Marks cutoffs and data expiries done once nothing due at `now` is left under them. Writes only
   * when something is pending: every write waits for the write lock, which the access log's writer
   * thread holds for most of each commit under load, and the scheduler runs on the event loop.
   */
  settle(now: number): void {
    if (!this.s.pendingToSettle.get({ now })) return;
    this.s.settleCutoffs.run();
    this.s.settleDataExpiries.run({ now });
  }

  /** Issuances that a reorganisation removed before their end was handled, and that the chain that won does not hold. */
  vanishedGrants(limit: number): EndedGrant[] {
    return this.s.vanishedGrants.all({ limit });
  }

  /** Done with a vanished issuance: its order exists, or the chain holds it again. */
  forgetVanished(grant: Pick<EndedGrant, "subject" | "grantId" | "grantedAt">): void {
    this.s.forgetVanished.run(grant.subject, grant.grantId, grant.grantedAt);
  }

  activeGrantsOnCategory(subject: string, categoryId: string, now: number): EndedGrant[] {
    return this.s.activeGrantsOnCategory.all({ subject, category: categoryId, now });
  }

  /** Ends that a later event hid from the grant's present state, due at `now`. */
  overtakenEnds(now: number, limit: number): EndedGrant[] {
    return this.s.overtakenEnds.all({ now, limit });
  }

  /** Data expiries due at `now`: those in force, and those a later value replaced after they fell due. */
  dueDataExpiries(now: number, limit: number): DueDataExpiry[] {
    const inForce = this.s.dueDataExpiries.all({ now, limit });
    return inForce.length < limit ? [...inForce, ...this.s.overtakenDataExpiries.all({ now, limit: limit - inForce.length })] : inForce;
  }

  markDataExpiryHandled(expiry: DueDataExpiry, at: number): void {
    this.s.markDataExpiryHandled.run(expiry.subject, expiry.categoryId, expiry.expiresAt, at);
    this.s.forgetOvertakenDataExpiry.run(expiry.subject, expiry.categoryId, expiry.expiresAt);
  }

  /**
   * Creates the order for one end of an issuance (once: the id is derived from the issuance and the
   * end) and marks that end handled: a grant's present end on the grant, a kept one by forgetting it.
   * An on-demand deletion marks nothing: the grant goes on, and its own end wants an order too.
   */
  createOrder(ended: EndedGrant, createdAt: number): DeletionOrder | null {
    const id = orderIdOf(ended.subject, ended.grantId, ended.grantedAt, endKeyOf(ended));
    const { deletionIndex: _, overtaken: __, ...fields } = ended;
    const inserted = this.s.insertOrder.run({ ...fields, id, createdAt }).changes === 1;
    if (ended.reason === "reorged") this.forgetVanished(ended);
    else if (ended.overtaken) this.s.forgetOvertakenEnd.run(ended.subject, ended.grantId, ended.grantedAt, ended.endedAt);
    else if (ended.reason !== "data-deleted") this.s.markHandled.run(ended.subject, ended.grantId, ended.grantedAt);
    return inserted ? this.getOrder(id) : null;
  }

  getOrder(id: string): DeletionOrder | null {
    const row = this.s.getOrder.get(id);
    return row ? toOrder(row) : null;
  }

  dueOrders(now: number, limit: number): (DeletionOrder & { webhookUrl: string })[] {
    return this.s.dueOrders.all({ now, limit }).map((row) => ({ ...toOrder(row), webhookUrl: row.webhook_url }));
  }

  markDelivered(id: string, at: number): boolean {
    return this.s.delivered.run(at, id).changes === 1;
  }

  markAttemptFailed(id: string, nextAttemptAt: number, error: string, giveUp: boolean): void {
    this.s.retry.run(nextAttemptAt, error.slice(0, 500), giveUp ? "failed" : "pending", id);
  }

  acknowledge(id: string, at: number, signature: string): boolean {
    return this.s.acknowledge.run(at, signature, id).changes === 1;
  }

  listOrders(filter: { subject?: string; grantee?: string; status?: OrderStatus; party?: string; limit: number; offset: number }): DeletionOrder[] {
    const where: string[] = [];
    for (const column of ["subject", "grantee", "status"] as const) if (filter[column] !== undefined) where.push(`${column} = @${column}`);
    if (filter.party !== undefined) where.push("(subject = @party OR grantee = @party)");
    const sql = `SELECT * FROM deletion_orders ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY created_at DESC, id LIMIT @limit OFFSET @offset`;
    return this.db.prepare<Record<string, unknown>, OrderRow>(sql).all({ ...filter }).map(toOrder);
  }

  putService(service: Service): void {
    this.s.putService.run(service);
  }

  listServices(): Service[] {
    return this.s.listServices.all().map((row) => ({ address: row.address, displayName: row.display_name, webhookUrl: row.webhook_url, updatedAt: row.updated_at }));
  }

  /** The labels under which a subject's records of a category id are stored. */
  categoryLabels(subject: string, categoryId: string): string[] {
    return this.s.categoryLabels.all(subject, categoryId).map((r) => r.category);
  }
}
