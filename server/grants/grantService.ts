import { grantIdOf, labelToId } from "../../core/ids";
import { forbidden } from "../errors";
import type { IndexStore, IndexedGrant } from "../store/types";
import type { Indexer } from "../chain/indexer";
import type { Roles } from "../auth/roles";
import { decide, decisionNow, type Decision } from "./decision";

export interface GrantListQuery {
  subject?: string;
  grantee?: string;
  category?: string;
  purpose?: string;
  status: "active" | "all";
  limit: number;
  offset: number;
}

/** Grant queries from the index, scoped to what the caller may see. */
export class GrantService {
  constructor(
    private readonly deps: {
      store: Pick<IndexStore, "listGrants" | "getGrant" | "getCutoff" | "getDataExpiry">;
      indexer: Pick<Indexer, "freshView" | "confirmations" | "lastView">;
      roles: Roles;
    },
  ) {}

  list(caller: string, query: GrantListQuery): { grants: (IndexedGrant & { status: string })[]; indexedBlock: number | null } {
    const view = this.deps.indexer.lastView();
    const now = decisionNow(view?.headTime);
    const grants = this.deps.store.listGrants({
      subject: query.subject,
      grantee: query.grantee,
      category: query.category === undefined ? undefined : labelToId(query.category).toLowerCase(),
      purpose: query.purpose === undefined ? undefined : labelToId(query.purpose).toLowerCase(),
      activeAt: query.status === "active" ? now : undefined,
      party: this.deps.roles.seesEverything(caller) ? undefined : caller,
      limit: query.limit,
      offset: query.offset,
    });
    return {
      grants: grants.map((g) => {
        const cutoff = this.deps.store.getCutoff(g.subject, g.grantee);
        const revoked = g.expiresAt === 0 || (cutoff !== null && g.grantedAt <= cutoff.revokedAt);
        return { ...g, status: revoked ? "revoked" : g.expiresAt <= now ? "expired" : "active" };
      }),
      indexedBlock: view?.indexedBlock ?? null,
    };
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
    );
  }
}
