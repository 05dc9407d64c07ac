import { Interface, type Log } from "ethers";
import { DataUseRegistry__factory } from "../../typechain-types";
import type { ChainEvent } from "../store/types";
import { grantIdOf } from "../../core/ids";

/** The registry's ABI, from the TypeChain bindings generated at compile time: defined nowhere else. */
export const registryInterface: Interface = new Interface(DataUseRegistry__factory.abi);

const lower = (value: string): string => value.toLowerCase();

/**
 * Decodes one registry log into the store's event shape. `GrantIssued` carries no id: it is derived
 * with the shared helper, exactly as the contract derives it.
 */
export function decodeRegistryLog(log: Log, blockTime: number): ChainEvent {
  const parsed = registryInterface.parseLog({ topics: [...log.topics], data: log.data });
  if (!parsed) throw new Error(`unknown registry log in tx ${log.transactionHash}`);
  const base = {
    blockNumber: log.blockNumber,
    blockHash: lower(log.blockHash),
    blockTime,
    txHash: lower(log.transactionHash),
    logIndex: log.index,
    subject: lower(parsed.args.subject as string),
    grantee: null,
    grantId: null,
    category: null,
    purpose: null,
    expiresAt: null,
    previousExpiresAt: null,
  };
  switch (parsed.name) {
    case "GrantIssued": {
      const { subject, grantee, category, purpose, expiresAt } = parsed.args;
      return {
        ...base,
        kind: "issued",
        grantee: lower(grantee),
        grantId: lower(grantIdOf(subject, grantee, category, purpose)),
        category: lower(category),
        purpose: lower(purpose),
        expiresAt: Number(expiresAt),
      };
    }
    case "GrantExpiryChanged":
      return {
        ...base,
        kind: "changed",
        grantee: lower(parsed.args.grantee),
        grantId: lower(parsed.args.grantId),
        expiresAt: Number(parsed.args.newExpiresAt),
        previousExpiresAt: Number(parsed.args.previousExpiresAt),
      };
    case "GrantRevoked":
      return { ...base, kind: "revoked", grantee: lower(parsed.args.grantee), grantId: lower(parsed.args.grantId) };
    case "AllGrantsRevoked":
      return { ...base, kind: "allRevoked", grantee: lower(parsed.args.grantee) };
    case "DataExpirySet":
      return {
        ...base,
        kind: "dataExpiry",
        category: lower(parsed.args.category),
        expiresAt: Number(parsed.args.expiresAt),
        previousExpiresAt: Number(parsed.args.previousExpiresAt),
      };
    default:
      throw new Error(`unexpected registry event ${parsed.name}`);
  }
}
