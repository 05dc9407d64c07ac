import { encodeBase64, hexlify } from "ethers";
import { portableHasher, type Hasher } from "./merkle";
import { encodeEntry } from "./entryEncoding";

/**
 * One entry of the gateway's access log as it is stored, served and hashed into the RFC 6962 tree.
 * Never personal data: addresses, labels, ids, times, and a keyed hash of a released payload.
 */
export interface AuditEntry {
  /** Position in the log, from 0, assigned in order. */
  index: number;
  /** Wall-clock milliseconds when the gateway wrote it. */
  at: number;
  /** release | write | deletion | deletion-order | deletion-delivered | deletion-delivery-failed | deletion-failed | deletion-ack */
  kind: string;
  requestId: string;
  actor: string | null;
  subject: string | null;
  grantee: string | null;
  category: string | null;
  purpose: string | null;
  grantBlock: number | null;
  grantTx: string | null;
  payloadHash: string | null;
  detail: Record<string, unknown> | null;
  /** The leaf hash of the entry before (zero for the first): an edited entry breaks the next one's link. */
  prevHash: string;
}

export const ZERO_HASH = "0x" + "00".repeat(32);

// The encoding has a module of its own, free of ethers: the auditor's worker threads load only it.
export { canonicalJson, encodeEntry } from "./entryEncoding";

/** The entry's RFC 6962 leaf hash, 0x-hex. */
export function entryLeafHash(entry: AuditEntry, hasher: Hasher = portableHasher): string {
  return hexlify(hasher.leaf(encodeEntry(entry)));
}

/**
 * The text a checkpoint signs, in the shape of a C2SP tlog-checkpoint note body: origin, tree size,
 * base64 root, each on its own line. The gateway signs it with EIP-191 (personal_sign), so anyone
 * checks it against the gateway's address alone.
 */
export function checkpointNote(origin: string, treeSize: number, rootHash: string): string {
  return `${origin}\n${treeSize}\n${encodeBase64(rootHash)}\n`;
}
