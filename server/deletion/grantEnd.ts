/**
 * When and why a grant issuance stopped being valid, in SQL over `grants g`, `cutoffs c` and
 * `data_expiries d` (both left-joined): the one place the scheduler and the index's record of
 * overtaken ends take it from.
 *
 * The instant is the first at which the issuance stopped being valid (its revocation's block time,
 * the cutoff, the data expiry or its own expiry, whichever came first): an order's identity and the
 * auditor's replay both rest on it, so it must not depend on when the scheduler looked. The reason
 * is DataUseRegistry.check's (a revocation first), which may name a later cause than the instant's.
 */

/** The revocation's block time, from the event that set expires_at to 0 (`now` if the index lacks it). */
const revokedAt = (now: string) =>
  `COALESCE((SELECT e.block_time FROM chain_events e WHERE e.block_number = g.block_number AND e.kind = 'revoked' AND e.subject = g.subject AND e.grant_id = g.grant_id), ${now})`;
const NEVER = "9007199254740991";
const cutOff = "c.revoked_at IS NOT NULL AND g.granted_at <= c.revoked_at";
const dataFirst = "d.expires_at IS NOT NULL AND d.expires_at != 0 AND (g.expires_at = 0 OR d.expires_at < g.expires_at)";

/** The columns of an ended grant: subject, grantId, grantee, category, purpose, grantedAt, reason, endedAt. */
export function grantEndColumns(now: string): string {
  const endedAt = `min(
    CASE WHEN g.expires_at = 0 THEN ${revokedAt(now)} ELSE ${NEVER} END,
    CASE WHEN ${cutOff} THEN c.revoked_at ELSE ${NEVER} END,
    CASE WHEN ${dataFirst} THEN d.expires_at ELSE ${NEVER} END,
    CASE WHEN g.expires_at != 0 THEN g.expires_at ELSE ${NEVER} END)`;
  const reason = `CASE
    WHEN g.expires_at = 0 THEN 'revoked'
    WHEN ${cutOff} THEN 'revoked-all'
    WHEN ${dataFirst} AND d.expires_at <= ${now} THEN 'data-expired'
    ELSE 'expired' END`;
  return `g.subject, g.grant_id AS grantId, g.grantee, g.category, g.purpose, g.granted_at AS grantedAt, ${reason} AS reason, ${endedAt} AS endedAt`;
}

/** `grants g` with the cutoff and data expiry that bound it. */
export const GRANT_END_JOINS = `LEFT JOIN cutoffs c ON c.subject = g.subject AND c.grantee = g.grantee
  LEFT JOIN data_expiries d ON d.subject = g.subject AND d.category = g.category`;
