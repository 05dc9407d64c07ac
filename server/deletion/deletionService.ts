import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { SqliteStore } from "../store/sqlite";
import type { Keyring } from "../crypto/keyring";
import type { AccessLogEntry } from "../store/types";
import { logEntry } from "../audit/accessLog";
import { decisionNow } from "../grants/decision";
import type { ChainView, Indexer } from "../chain/indexer";
import { DeletionStore, type DeletionOrder, type EndedGrant } from "./deletionStore";
import { ClockSkewMonitor } from "./clockSkew";

export interface EraseResult {
  deleted: number;
  auditIndex: number;
  orders: DeletionOrder[];
}

const orderEntry = (order: DeletionOrder, requestId: string, deletionIndex?: number): AccessLogEntry =>
  logEntry({
    kind: "deletion-order",
    requestId,
    subject: order.subject,
    grantee: order.grantee,
    category: order.category,
    purpose: order.purpose,
    detail: { orderId: order.id, grantId: order.grantId, grantedAt: order.grantedAt, reason: order.reason, endedAt: order.endedAt, ...(deletionIndex === undefined ? {} : { deletionIndex }) },
  });

/**
 * Carries out what expiry demands: destroys data whose retention ended (crypto-shredding) and orders
 * services to delete their copies when a grant ends. Each deletion, its receipt and the orders it
 * causes commit in one transaction, and what was handled is marked there too, so nothing is done
 * twice or lost across a crash or restart.
 */
export class DeletionService {
  readonly deletions: DeletionStore;
  private timer: NodeJS.Timeout | null = null;
  private readonly skew: ClockSkewMonitor;
  private readonly wallClock: () => number;

  constructor(
    private readonly deps: {
      store: SqliteStore;
      keyring: Keyring;
      indexer: Pick<Indexer, "freshView" | "lastView">;
      logger: Logger;
      intervalMs: number;
      /** How far the wall clock and the chain head's time may drift apart before it is reported. */
      maxClockSkewSeconds: number;
      /** Wall-clock milliseconds (injected by tests). */
      wallClock?: () => number;
    },
  ) {
    this.deletions = new DeletionStore(deps.store.db);
    this.wallClock = deps.wallClock ?? Date.now;
    this.skew = new ClockSkewMonitor(deps.maxClockSkewSeconds, deps.logger);
  }

  /**
   * "Now" for refusing access and new data: the release decision's, the later of the chain head's
   * time and the wall clock, so either one reaching an expiry ends access.
   */
  now(): number {
    return decisionNow(this.deps.indexer.lastView()?.headTime, this.wallClock());
  }

  /**
   * "Now" for deleting, which cannot be undone: the chain head's time alone, and only from a fresh
   * view of an index that has read up to that head (the state it would act on is the head's). A
   * wall clock that runs ahead must not shred data early. When the view cannot vouch for it, why:
   * nothing is deleted and the next tick tries again.
   */
  deletionNow(): { now: number } | { waiting: string } {
    let view: ChainView;
    try {
      view = this.deps.indexer.freshView(this.wallClock());
    } catch (error) {
      return { waiting: (error as Error).message };
    }
    this.skew.observe(this.wallClock(), view.headTime);
    if (view.indexedBlock < view.headNumber) return { waiting: `the index has read block ${view.indexedBlock} of head ${view.headNumber}` };
    return { now: view.headTime };
  }

  /** Registers the clock skew gauge on /metrics' registry. */
  registerMetrics(registry: Registry): void {
    this.skew.register(registry);
  }

  /** Deletes a category of a subject's data now (the subject's or an operator's request). */
  eraseOnDemand(subject: string, categoryId: string, actor: string, requestId: string): EraseResult {
    const result = this.deps.store.transaction(() => {
      const erased = this.erase(subject, categoryId, "on-demand", actor, requestId);
      // With nothing deleted, no service can have received anything since the last deletion,
      // which ordered every grantee then (a data expiry ends every grant on the category).
      const orders =
        erased.deleted === 0
          ? []
          : this.deletions
              .activeGrantsOnCategory(subject, categoryId, this.now())
              .map((ended) => this.order({ ...ended, deletionIndex: erased.auditIndex }, requestId))
              .filter((o): o is DeletionOrder => o !== null);
      return { ...erased, orders };
    });
    this.scrubWal();
    return result;
  }

  /**
   * Fires everything due by the chain head's time, oldest first: data expiries (deletion + receipt)
   * and grant ends (deletion orders). Returns how many of each, and why it waited (deleting
   * nothing) when the view could not vouch for the chain's time.
   */
  runDue(): { dataExpiries: number; orders: number; waiting: string | null } {
    const at = this.deletionNow();
    return "waiting" in at ? { dataExpiries: 0, orders: 0, waiting: at.waiting } : { ...this.runDueAt(at.now), waiting: null };
  }

  private runDueAt(now: number): { dataExpiries: number; orders: number } {
    let dataExpiries = 0;
    let orders = 0;
    for (;;) {
      const data = this.deletions.dueDataExpiries(now, 500).map((d) => ({ at: d.expiresAt, data: d, grant: null }));
      const ended = [...this.deletions.endedGrants(now, 2000), ...this.deletions.overtakenEnds(now, 500), ...this.deletions.vanishedGrants(500)];
      const grants = ended.map((g) => ({ at: g.endedAt, data: null, grant: g }));
      if (data.length === 0 && grants.length === 0) {
        this.deletions.settle(now);
        break;
      }
      // Data first at equal instants: a grant capped by a data expiry ends with the data.
      const due = [...data, ...grants].sort((a, b) => a.at - b.at || (a.data ? -1 : 0) - (b.data ? -1 : 0));
      this.deps.store.transaction(() => {
        for (const item of due) {
          if (item.data) {
            this.erase(item.data.subject, item.data.categoryId, "data-expiry", null, `expiry:${item.data.expiresAt}`, { expiresAt: item.data.expiresAt });
            this.deletions.markDataExpiryHandled(item.data, this.wallClock());
            dataExpiries += 1;
          } else if (this.order(item.grant!, `grant-end:${item.grant!.endedAt}`)) {
            orders += 1;
          }
        }
      });
      if (data.length > 0) this.scrubWal();
    }
    if (dataExpiries + orders > 0) this.deps.logger.info({ dataExpiries, orders }, "expiries carried out");
    return { dataExpiries, orders };
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      try {
        this.runDue();
      } catch (error) {
        this.deps.logger.error({ err: error }, "expiry run failed");
      }
    }, this.deps.intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private erase(subject: string, categoryId: string, rule: string, actor: string | null, requestId: string, extra: Record<string, unknown> = {}): { deleted: number; auditIndex: number } {
    const { store, keyring } = this.deps;
    const labels = this.deletions.categoryLabels(subject, categoryId);
    let deleted = 0;
    for (const label of labels) deleted += store.deleteRecords(subject, label);
    if (store.countRecords(subject) === 0) keyring.destroy(subject);
    const [auditIndex] = store.appendLog([
      logEntry({ kind: "deletion", requestId, actor, subject, category: labels[0] ?? categoryId, detail: { rule, categoryId, records: deleted, ...extra } }),
    ]);
    return { deleted, auditIndex };
  }

  private order(ended: EndedGrant, requestId: string): DeletionOrder | null {
    const order = this.deletions.createOrder(ended, this.wallClock());
    if (order) this.deps.store.appendLog([orderEntry(order, requestId, ended.deletionIndex)]);
    return order;
  }

  /** Moves the WAL's pages into the database and truncates it, so no deleted page lingers there. */
  private scrubWal(): void {
    this.deps.store.db.pragma("wal_checkpoint(TRUNCATE)");
  }
}
