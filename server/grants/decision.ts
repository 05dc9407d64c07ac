import type { DenyCode } from "../../core/errorCodes";
import type { IndexStore, IndexedGrant } from "../store/types";
import type { ChainView } from "../chain/indexer";

export interface GrantQuery {
  subject: string;
  grantee: string;
  category: string;
  purpose: string;
  grantId: string;
}

export interface Decision {
  allowed: boolean;
  reason: DenyCode | null;
  /** When the grant stops (or stopped) being valid: the earlier of its expiry and the data expiry. */
  expiresAt: number | null;
  grant: IndexedGrant | null;
  indexedBlock: number;
}

/**
 * Decides from the index whether `grantee` may use the data now. It mirrors DataUseRegistry.check
 * and adds what only the gateway knows:
 * - "now" is the later of the chain head's time and the wall clock: either one reaching the expiry
 *   ends the grant;
 * - a grant counts only once its issuing block has `confirmations` blocks on top; an unconfirmed
 *   change counts only in the direction that ends access sooner (revocations count at once).
 */
export function decide(
  store: Pick<IndexStore, "getGrant" | "getCutoff" | "getDataExpiry">,
  query: GrantQuery,
  chain: ChainView,
  confirmations: number,
  wallClockSeconds = Math.floor(Date.now() / 1000),
): Decision {
  const confirmedBlock = chain.headNumber - confirmations;
  const now = Math.max(chain.headTime, wallClockSeconds);
  const deny = (reason: DenyCode, grant: IndexedGrant | null, expiresAt: number | null): Decision => ({
    allowed: false,
    reason,
    expiresAt,
    grant,
    indexedBlock: chain.indexedBlock,
  });

  const grant = store.getGrant(query.subject, query.grantId);
  if (!grant || grant.issuedBlock > confirmedBlock) return deny("NO_GRANT", null, null);
  if (grant.expiresAt === 0) return deny("GRANT_REVOKED", grant, 0);
  const cutoff = store.getCutoff(query.subject, query.grantee);
  if (cutoff && grant.grantedAt <= cutoff.revokedAt) return deny("GRANT_REVOKED", grant, 0);

  let expiresAt = grant.blockNumber > confirmedBlock ? Math.min(grant.expiresAt, grant.previousExpiresAt) : grant.expiresAt;
  let ending: DenyCode = "GRANT_EXPIRED";
  const dataExpiry = store.getDataExpiry(query.subject, query.category);
  if (dataExpiry) {
    const candidates = [dataExpiry.expiresAt];
    if (dataExpiry.blockNumber > confirmedBlock) candidates.push(dataExpiry.previousExpiresAt);
    const set = candidates.filter((t) => t !== 0);
    const dataExpiresAt = set.length > 0 ? Math.min(...set) : 0;
    if (dataExpiresAt !== 0 && dataExpiresAt < expiresAt) {
      expiresAt = dataExpiresAt;
      ending = "DATA_EXPIRED";
    }
  }
  // Half-open window [grantedAt, expiresAt): at expiresAt the grant has ended.
  if (now >= expiresAt) return deny(ending, grant, expiresAt);
  return { allowed: true, reason: null, expiresAt, grant, indexedBlock: chain.indexedBlock };
}
