import { DataUseRegistry__factory } from "../../typechain-types/factories/contracts/DataUseRegistry__factory";
import { decodeRevert, type DecodedRevert } from "../../server/chain/revert";
import type { ErrorCode } from "../../core/errorCodes";
import { GatewayRequestError } from "./gateway";
import { TransactionFailedError } from "./ledger";

const registryInterface = DataUseRegistry__factory.createInterface();

export interface Explained {
  /** `rejected`: the person said no in the wallet; `failed`: something else stopped the action. */
  tone: "rejected" | "failed";
  text: string;
}

/** EIP-1193 4001 (user rejected), however deep a library wrapped it. */
function isRejection(error: unknown): boolean {
  for (let e = error as Record<string, unknown> | undefined, depth = 0; e && depth < 5; depth += 1) {
    if (e.code === 4001 || e.code === "ACTION_REJECTED") return true;
    e = (e.error ?? (e.info as Record<string, unknown> | undefined)?.error ?? e.cause) as Record<string, unknown> | undefined;
  }
  return false;
}

/** The registry's custom error behind a failed call or relay, if it is one. */
function contractError(error: unknown): DecodedRevert | null {
  if (error instanceof GatewayRequestError) {
    const issues = error.issues as Partial<DecodedRevert> | undefined;
    return issues?.name && issues.args ? (issues as DecodedRevert) : null;
  }
  return decodeRevert(registryInterface, error);
}

type Words = (args: Record<string, string>, time: (seconds: number) => string) => string;

/** The registry's errors (contracts/interfaces/IDataUseRegistry.sol), said to a person. */
const CONTRACT_ERROR_WORDS: Record<string, Words> = {
  DataUseRegistryInvalidGrantee: () => "the service's address is empty; choose a service.",
  DataUseRegistryExpiryNotInFuture: (a, time) => `the time you chose (${time(Number(a.expiresAt))}) is not in the future: the chain's clock says ${time(Number(a.now))}.`,
  DataUseRegistryGrantNotActive: () => "this grant has already ended (expired or revoked), so it cannot be changed. Grant access anew instead.",
  DataUseRegistryExpiredSignature: (a, time) => `the signature's deadline (${time(Number(a.deadline))}) has passed; please try again.`,
  DataUseRegistryInvalidSignature: (a) => `the signature is not from ${a.subject} over this exact change with its current nonce; please try again.`,
};

const GATEWAY_WORDS: Partial<Record<ErrorCode | "NETWORK", string>> = {
  NETWORK: "the gateway could not be reached; check your connection.",
  UNAUTHENTICATED: "your session has ended; sign in again.",
  FORBIDDEN: "the gateway does not let this account do that.",
  RATE_LIMITED: "too many requests in a minute; wait a moment.",
  INDEX_STALE: "the gateway has not caught up with the chain yet; try again in a few seconds.",
  CHAIN_UNAVAILABLE: "the gateway cannot reach the chain right now.",
  RELAY_FAILED: "the gateway could not submit your signed change to the chain.",
  DATA_EXPIRED: "your retention for this category has ended; clear or move its data expiry first.",
};

/** What to tell a person about any error an action ended with. */
export function explain(error: unknown, time: (seconds: number) => string): Explained {
  if (isRejection(error)) return { tone: "rejected", text: "You rejected the request in your wallet. Nothing was changed." };
  const decoded = contractError(error);
  if (decoded) {
    const words = CONTRACT_ERROR_WORDS[decoded.name];
    const detail = words ? words(decoded.args, time) : `${decoded.name}(${Object.values(decoded.args).join(", ")}).`;
    return { tone: "failed", text: `The registry refused: ${detail} (${decoded.name})` };
  }
  if (error instanceof TransactionFailedError) {
    return { tone: "failed", text: `The transaction was mined in block ${error.receipt.blockNumber} but reverted; nothing was changed.` };
  }
  if (error instanceof GatewayRequestError) {
    return { tone: "failed", text: `The gateway refused: ${GATEWAY_WORDS[error.code] ?? error.message} (${error.code})` };
  }
  const message = (error as { shortMessage?: string; message?: string })?.shortMessage ?? (error as Error)?.message ?? String(error);
  return { tone: "failed", text: `Something went wrong: ${message}` };
}
