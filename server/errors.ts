import { ERROR_CODES, type ErrorCode } from "../core/errorCodes";

/**
 * The gateway's error: a literal code from core/errorCodes (which fixes the HTTP status), a message
 * safe to show a caller, and an optional cause kept for the logs only.
 */
export class GatewayError extends Error {
  override readonly name: string = "GatewayError";
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: { cause?: unknown; issues?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.status = ERROR_CODES[code];
    this.issues = options.issues;
  }

  readonly issues: unknown;
}

export const invalidInput = (message: string, issues?: unknown) => new GatewayError("INVALID_INPUT", message, { issues });
export const unauthenticated = (message = "sign in with Ethereum and send the token as 'Authorization: Bearer <token>'") =>
  new GatewayError("UNAUTHENTICATED", message);
export const forbidden = (message: string) => new GatewayError("FORBIDDEN", message);
