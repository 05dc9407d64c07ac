import { keccak256, toUtf8Bytes } from "ethers";

/**
 * The name of the access log a gateway keeps for a deployment: in every checkpoint, and the log
 * registered on AuditAnchor under `logIdOf(origin)`.
 */
export function logOriginOf(deployment: { chainId: number; contracts: { AuditAnchor: { address: string } } }): string {
  return `data-use-ledger/${deployment.chainId}/${deployment.contracts.AuditAnchor.address.toLowerCase()}`;
}

/** The id AuditAnchor files a log under: `keccak256(bytes(origin))`. */
export function logIdOf(origin: string): string {
  return keccak256(toUtf8Bytes(origin));
}
