/**
 * Every machine-readable error code the gateway answers with, and its HTTP status. The gateway,
 * the auditor's CLI and the wallet page import this one table.
 */
export const ERROR_CODES = {
  INVALID_INPUT: 400,
  INVALID_SIGNATURE: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NO_GRANT: 403,
  GRANT_REVOKED: 403,
  GRANT_EXPIRED: 403,
  DATA_EXPIRED: 403,
  NO_DATA: 404,
  NOT_FOUND: 404,
  TX_NOT_FOUND: 404,
  NOT_YET_CHECKPOINTED: 409,
  PAYLOAD_TOO_LARGE: 413,
  NOT_A_REGISTRY_TX: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  RELAY_FAILED: 502,
  INDEX_STALE: 503,
  CHAIN_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The body of every error response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; issues?: unknown };
  requestId: string;
}

/** Why a grant check denies, as the gateway reports it; `null` when allowed. */
export type DenyCode = "NO_GRANT" | "GRANT_REVOKED" | "GRANT_EXPIRED" | "DATA_EXPIRED";

/** Maps DataUseRegistry's `DenyReason` enum (by index) to the gateway's code. */
export const DENY_REASON_CODES: readonly (DenyCode | null)[] = [null, "NO_GRANT", "GRANT_EXPIRED", "GRANT_REVOKED", "DATA_EXPIRED"];
