import type { DenyCode } from "./errorCodes";

/**
 * When a grant is valid: DataUseRegistry.check's rule, written once for the gateway's decision and
 * the auditor's replay (the index's SQL states it in its own language; test/grants/validityCases.ts
 * holds all of them, and the contract, to one table).
 */

/** Why a grant issued is not valid (the contract's `Revoked` covers both revocations). */
export type GrantEnd = "revoked" | "revoked-all" | "expired" | "data-expired";

/** What the rule reads: one grant's record, the subject's revokeAll cutoff for its grantee and data expiry for its category. */
export interface GrantRecordState {
  /** The block time of its issue. */
  grantedAt: number;
  /** Its own expiry; 0 once revoked one by one, as the contract stores it. */
  expiresAt: number;
  /** The block time of the subject's latest revokeAll of this grantee; 0 when none. */
  allRevokedAt: number;
  /** The subject's data expiry for the category; 0 when none. */
  dataExpiresAt: number;
}

export interface GrantValidity {
  valid: boolean;
  /** Why not; null when valid. */
  reason: GrantEnd | null;
  /** Until when it is (or was) valid: the earlier of its own expiry and the data expiry; 0 once revoked either way. */
  expiresAt: number;
}

export function grantValidity(grant: GrantRecordState, now: number): GrantValidity {
  if (grant.expiresAt === 0) return { valid: false, reason: "revoked", expiresAt: 0 };
  // A revokeAll ends every grant issued at or before its second, one issued later in that second
  // too: the order within a second is not known, and the registry fails closed.
  if (grant.grantedAt <= grant.allRevokedAt) return { valid: false, reason: "revoked-all", expiresAt: 0 };
  const dataFirst = grant.dataExpiresAt !== 0 && grant.dataExpiresAt < grant.expiresAt;
  const expiresAt = dataFirst ? grant.dataExpiresAt : grant.expiresAt;
  // Half-open window [grantedAt, expiresAt): at expiresAt the grant has ended.
  if (now >= expiresAt) return { valid: false, reason: dataFirst ? "data-expired" : "expired", expiresAt };
  return { valid: true, reason: null, expiresAt };
}

/** The gateway's code for each end. */
export const DENY_CODE_OF_END: Record<GrantEnd, DenyCode> = {
  revoked: "GRANT_REVOKED",
  "revoked-all": "GRANT_REVOKED",
  expired: "GRANT_EXPIRED",
  "data-expired": "DATA_EXPIRED",
};
