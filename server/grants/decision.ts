import type { DenyCode } from "../../core/errorCodes";
import { DENY_CODE_OF_END, grantValidity } from "../../core/grantValidity";
import type { IndexStore, IndexedGrant } from "../store/types";
import type { ChainView } from "../chain/indexer";
import type { PendingEffects } from "../chain/pendingEffects";

export interface GrantQuery {
  subject: string;
  grantee: string;
  category: string;
  purpose: string;
  grantId: string;
}

/** What a decision reads of the index. */
export type DecisionStore = Pick<IndexStore, "getGrant" | "getCutoff" | "getDataExpiry" | "grantExpiryAt" | "dataExpiryAt">;

export interface Decision {
  allowed: boolean;
  reason: DenyCode | null;
  /** When the grant stops (or stopped) being valid: the earlier of its expiry and the data expiry. */
  expiresAt: number | null;
  /** The instant decided at, in seconds: see {@link decisionNow}. */
  decidedAt: number;
  /** The chain head the index had read when deciding: which blocks' events the decision could know. */
  headBlock: number;
  /** That head's hash and block time, logged with each release for the auditor to check against the chain. */
  headHash: string;
  headTime: number;
  grant: IndexedGrant | null;
  indexedBlock: number;
}

/**
 * Decides from the index whether `grantee` may use the data now, by DataUseRegistry.check's rule
 * (core/grantValidity), and adds what only the gateway knows:
 * - "now" is the later of the chain head's time and the wall clock: either one reaching the expiry
 *   ends the grant;
 * - a grant counts only once its issuing block has `confirmations` blocks on top; an unconfirmed
 *   change counts only in the direction that ends access sooner (revocations count at once), as
 *   against the state as of the confirmed block.
 */
/** "Now" for every expiry the gateway enforces: the later of the chain head's time and the wall clock. */
export function decisionNow(headTime: number | undefined, wallClockMs = Date.now()): number {
  return Math.max(headTime ?? 0, Math.floor(wallClockMs / 1000));
}

export function decide(
  store: DecisionStore,
  query: GrantQuery,
  chain: ChainView,
  confirmations: number,
  wallClockMs = Date.now(),
  /** Mined transactions handed over that the index has not read yet: they can only end the grant sooner. */
  pending?: Pick<PendingEffects, "on">,
): Decision {
  const confirmedBlock = chain.headNumber - confirmations;
  const now = decisionNow(chain.headTime, wallClockMs);
  const deny = (reason: DenyCode, grant: IndexedGrant | null, expiresAt: number | null): Decision => ({
    allowed: false,
    reason,
    expiresAt,
    grant,
    decidedAt: now,
    headBlock: chain.headNumber,
    headHash: chain.headHash,
    headTime: chain.headTime,
    indexedBlock: chain.indexedBlock,
  });

  const grant = store.getGrant(query.subject, query.grantId);
  if (!grant || grant.issuedBlock > confirmedBlock) return deny("NO_GRANT", null, null);

  // Changes after the confirmed block count only where they end access sooner: against the state
  // as of that block, not the value before the latest change (two extensions in a row would
  // otherwise make the first, unconfirmed, count). A revocation (expiry 0) counts at once.
  let expiresAt =
    grant.expiresAt !== 0 && grant.blockNumber > confirmedBlock
      ? Math.min(grant.expiresAt, store.grantExpiryAt(query.subject, query.grantId, confirmedBlock) ?? 0)
      : grant.expiresAt;
  // Mined after the index's block and handed over: only what ends the grant sooner (0 is revoked).
  const early = pending?.on(query, chain.indexedBlock) ?? null;
  if (early?.expiresAt != null) expiresAt = Math.min(expiresAt, early.expiresAt);
  let dataExpiresAt = 0;
  const dataExpiry = store.getDataExpiry(query.subject, query.category);
  if (dataExpiry || early?.dataExpiresAt != null) {
    const candidates = [dataExpiry?.expiresAt ?? 0, early?.dataExpiresAt ?? 0];
    if (dataExpiry && dataExpiry.blockNumber > confirmedBlock) candidates.push(store.dataExpiryAt(query.subject, query.category, confirmedBlock));
    const set = candidates.filter((t) => t !== 0);
    if (set.length > 0) dataExpiresAt = Math.min(...set);
  }
  const allRevokedAt = Math.max(store.getCutoff(query.subject, query.grantee)?.revokedAt ?? 0, early?.cutoffAt ?? 0);
  const validity = grantValidity({ grantedAt: grant.grantedAt, expiresAt, allRevokedAt, dataExpiresAt }, now);
  if (!validity.valid) return deny(DENY_CODE_OF_END[validity.reason!], grant, validity.expiresAt);
  return { allowed: true, reason: null, expiresAt: validity.expiresAt, grant, decidedAt: now, headBlock: chain.headNumber, headHash: chain.headHash, headTime: chain.headTime, indexedBlock: chain.indexedBlock };
}
