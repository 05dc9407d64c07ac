import { grantIdOf, labelToId } from "../../core/ids";
import { forbidden } from "../errors";
import type { IndexStore, IndexedGrant } from "../store/types";
import type { Indexer } from "../chain/indexer";
import type { PendingEffects } from "../chain/pendingEffects";
import type { Roles } from "../auth/roles";
import type { DenyCode } from "../../core/errorCodes";
import { decide, decisionNow, type Decision, type DecisionStore } from "./decision";

export interface GrantListQuery {
  subject?: string;
  grantee?: string;
  category?: string;
  purpose?: string;
  status: "active" | "all";
  limit: number;
  offset: number;
}

/** A grant's state now, by the rule that releases data; "pending" waits for its confirmations. */
export type GrantStatus = "active" | "pending" | "revoked" | "expired" | "data-expired";
export type ListedGrant = IndexedGrant & { status: GrantStatus };

const STATUS_OF_DENIAL: Record<DenyCode, GrantStatus> = {
  NO_GRANT: "pending",
  GRANT_REVOKED: "revoked",
  GRANT_EXPIRED: "expired",
  DATA_EXPIRED: "data-expired",
};
const ACTIVE_SCAN_PAGE = 500;

/** Grant queries from the index, scoped to what the caller may see. */
export class GrantService {
  constructor(
    private readonly deps: {
      store: Pick<IndexStore, "listGrants"> & DecisionStore;
      indexer: Pick<Indexer, "freshView" | "confirmations" | "lastView">;
      roles: Roles;
      /** Mined transactions handed over that the index has not read yet. */
      pending?: Pick<PendingEffects, "on">;
    },
  ) {}

  /**
   * Grants from the index, each with its status by the rule that releases data ({@link decide}):
   * a listing never says "active" of a grant that a release would refuse. `status=active` narrows
   * in SQL to grants neither expired nor cut off, then keeps those the rule allows.
   */
  list(caller: string, query: GrantListQuery): { grants: ListedGrant[]; indexedBlock: number } {
    // A listing may lag the chain (it says how far it read), but never describes an index never read.
    const view = this.deps.indexer.lastView() ?? this.deps.indexer.freshView();
    const filter = {
      subject: query.subject,
      grantee: query.grantee,
      category: query.category === undefined ? undefined : labelToId(query.category).toLowerCase(),
      purpose: query.purpose === undefined ? undefined : labelToId(query.purpose).toLowerCase(),
      party: this.deps.roles.seesEverything(caller) ? undefined : caller,
    };
    const listed = (g: IndexedGrant): ListedGrant => {
      const decision = decide(this.deps.store, g, view, this.deps.indexer.confirmations, Date.now(), this.deps.pending);
      return { ...g, status: decision.allowed ? "active" : STATUS_OF_DENIAL[decision.reason!] };
    };
    if (query.status === "all") {
      return { grants: this.deps.store.listGrants({ ...filter, limit: query.limit, offset: query.offset }).map(listed), indexedBlock: view.indexedBlock };
    }
    const activeAt = decisionNow(view.headTime);
    const grants: ListedGrant[] = [];
    let skipped = 0;
    for (let from = 0; grants.length < query.limit; from += ACTIVE_SCAN_PAGE) {
      const page = this.deps.store.listGrants({ ...filter, activeAt, limit: ACTIVE_SCAN_PAGE, offset: from });
      for (const g of page.map(listed)) {
        if (g.status !== "active") continue;
        if (skipped < query.offset) skipped += 1;
        else if (grants.push(g) === query.limit) break;
      }
      if (page.length < ACTIVE_SCAN_PAGE) break;
    }
    return { grants, indexedBlock: view.indexedBlock };
  }

  check(caller: string, subject: string, grantee: string, category: string, purpose: string): Decision {
    if (caller !== subject && caller !== grantee && !this.deps.roles.seesEverything(caller)) {
      throw forbidden("a grant check is for its subject, its grantee, operators and auditors");
    }
    return this.decide(subject, grantee, category, purpose);
  }

  /** Whether `grantee` may use the subject's data of `category` for `purpose` now; throws INDEX_STALE when the index cannot say. */
  decide(subject: string, grantee: string, category: string, purpose: string): Decision {
    const view = this.deps.indexer.freshView();
    const categoryId = labelToId(category).toLowerCase();
    const purposeId = labelToId(purpose).toLowerCase();
    return decide(
      this.deps.store,
      { subject, grantee, category: categoryId, purpose: purposeId, grantId: grantIdOf(subject, grantee, categoryId, purposeId).toLowerCase() },
      view,
      this.deps.indexer.confirmations,
      Date.now(),
      this.deps.pending,
    );
  }
}
