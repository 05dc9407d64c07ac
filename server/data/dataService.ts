import { labelToId } from "../../core/ids";
import { GatewayError, forbidden } from "../errors";
import { pack, seal } from "../crypto/envelope";
import type { Keyring } from "../crypto/keyring";
import { logEntry, type AccessLog } from "../audit/accessLog";
import type { DataStore, IndexStore, IndexedGrant } from "../store/types";
import { payloadHash } from "./payloadHash";
import type { Roles } from "../auth/roles";
import type { DeletionService } from "../deletion/deletionService";
import type { GrantService } from "../grants/grantService";

export interface ReleasedData {
  subject: string;
  category: string;
  purpose: string;
  value: unknown;
  grant: Pick<IndexedGrant, "grantId" | "grantedAt" | "blockNumber" | "txHash"> & { expiresAt: number };
  auditIndex: number;
}

export interface RecordSummary {
  category: string;
  categoryId: string;
  createdAt: number;
  updatedAt: number;
}

/** Binds a ciphertext to its subject and category: a sealed value moved to another row will not open. */
const recordAad = (subject: string, category: string) => `record:${subject}:${category}`;

/**
 * The subjects' data: stored sealed under each subject's key, released only to a service holding a
 * grant that is valid at that instant, every release logged durably before the value leaves.
 */
export class DataService {
  constructor(
    private readonly deps: {
      store: DataStore & Pick<IndexStore, "getDataExpiry">;
      keyring: Keyring;
      accessLog: AccessLog;
      grants: Pick<GrantService, "decide">;
      roles: Roles;
      eraser: Pick<DeletionService, "eraseOnDemand" | "now">;
      /** Keys the hashes of written values in the log (the log's writer keys those of released ones). */
      payloadKey: Buffer;
    },
  ) {}

  /** Stores a value for the subject (the subject itself or an operator). */
  async put(caller: string, subject: string, category: string, value: unknown, requestId: string): Promise<{ created: boolean; auditIndex: number }> {
    this.requireSubjectOrOperator(caller, subject, "store");
    const categoryId = labelToId(category).toLowerCase();
    this.refuseIfRetentionEnded(subject, categoryId, category);
    const plaintext = Buffer.from(JSON.stringify(value), "utf8");
    const sealed = pack(seal(this.deps.keyring.keyFor(subject), plaintext, recordAad(subject, category)));
    const now = Date.now();
    const created = this.deps.store.putRecord({ subject, category, categoryId, sealed, createdAt: now, updatedAt: now });
    const auditIndex = await this.deps.accessLog.append(
      logEntry({ kind: "write", requestId, actor: caller, subject, category, payloadHash: payloadHash(this.deps.payloadKey, subject, category, plaintext), detail: { created } }),
    );
    return { created, auditIndex };
  }

  /**
   * Releases the value to the calling service for `purpose`, under the grant subject → caller for
   * this category and purpose. Denies (403) without one valid now; 503 when the index cannot vouch
   * for "now"; 404 only to a service that holds a valid grant, so existence does not leak.
   */
  async release(caller: string, subject: string, category: string, purpose: string, requestId: string): Promise<ReleasedData> {
    const decision = this.deps.grants.decide(subject, caller, category, purpose);
    if (!decision.allowed) throw new GatewayError(decision.reason!, denyMessage(decision.reason!, decision.expiresAt));
    const grant = decision.grant!;

    const record = this.deps.store.getRecord(subject, category);
    const key = record ? this.deps.keyring.existingKey(subject) : null;
    if (!record || !key) throw new GatewayError("NO_DATA", `no ${category} data is held for this subject`);

    // The log's writer opens the value and logs its keyed hash: the value is in the clear only once its release is logged.
    const { index: auditIndex, value } = await this.deps.accessLog.appendRelease(
      logEntry({
        kind: "release",
        requestId,
        actor: caller,
        subject,
        grantee: caller,
        category,
        purpose,
        grantBlock: grant.blockNumber,
        grantTx: grant.txHash,
        detail: { grantId: grant.grantId, grantedAt: grant.grantedAt, validUntil: decision.expiresAt, decidedAt: decision.decidedAt, headBlock: decision.headBlock, headHash: decision.headHash, headTime: decision.headTime },
      }),
      { sealed: record.sealed, key, aad: recordAad(subject, category) },
    );
    return {
      subject,
      category,
      purpose,
      value,
      grant: { grantId: grant.grantId, grantedAt: grant.grantedAt, expiresAt: decision.expiresAt!, blockNumber: grant.blockNumber, txHash: grant.txHash },
      auditIndex,
    };
  }

  /** Deletes a category of the subject's data now and orders services holding grants on it to delete their copies. */
  async delete(caller: string, subject: string, category: string, requestId: string): Promise<{ deleted: number; auditIndex: number; orders: string[] }> {
    this.requireSubjectOrOperator(caller, subject, "delete");
    const result = this.deps.eraser.eraseOnDemand(subject, labelToId(category).toLowerCase(), caller, requestId);
    return { deleted: result.deleted, auditIndex: result.auditIndex, orders: result.orders.map((o) => o.id) };
  }

  /** The categories held for a subject, without values. */
  list(caller: string, subject: string): RecordSummary[] {
    if (caller !== subject && !this.deps.roles.seesEverything(caller)) {
      throw forbidden("only the subject, operators and auditors may list a subject's data");
    }
    return this.deps.store.listRecords(subject).map((r) => ({ category: r.category, categoryId: r.categoryId, createdAt: r.createdAt, updatedAt: r.updatedAt }));
  }

  private requireSubjectOrOperator(caller: string, subject: string, verb: string): void {
    if (caller !== subject && !this.deps.roles.isOperator(caller)) {
      throw forbidden(`only the subject or an operator may ${verb} a subject's data`);
    }
  }

  /** New data must not outlive a retention the subject has already ended; clearing the expiry on-chain lifts this. */
  private refuseIfRetentionEnded(subject: string, categoryId: string, category: string): void {
    const expiry = this.deps.store.getDataExpiry(subject, categoryId);
    if (!expiry) return;
    const now = this.deps.eraser.now();
    const ended = [expiry.expiresAt, expiry.previousExpiresAt].some((t) => t !== 0 && t <= now);
    if (ended) throw new GatewayError("DATA_EXPIRED", `the subject's retention for ${category} has ended; it must clear or move its data expiry first`);
  }

}

function denyMessage(reason: string, expiresAt: number | null): string {
  switch (reason) {
    case "NO_GRANT":
      return "no grant from this subject to the caller for this category and purpose";
    case "GRANT_REVOKED":
      return "the subject revoked this grant";
    case "GRANT_EXPIRED":
      return `the grant expired at ${expiresAt}`;
    default:
      return `the subject's data of this category expired at ${expiresAt}`;
  }
}
