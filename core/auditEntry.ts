import { encodeBase64, hexlify } from "ethers";
import { portableHasher, type Hasher } from "./merkle";

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

/** JSON with object keys sorted at every depth: the same entry always hashes the same, in any client. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) throw new TypeError("a log entry holds only finite numbers");
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
}

/** An entry's fields in the order canonical JSON sorts them. */
const ENTRY_KEYS = ["actor", "at", "category", "detail", "grantBlock", "grantTx", "grantee", "index", "kind", "payloadHash", "prevHash", "purpose", "requestId", "subject"] as const;
const utf8 = new TextEncoder();

/**
 * The bytes of an entry that its leaf commits to: the canonical JSON of its fields (and of nothing
 * else it may carry), as UTF-8. Written out field by field, as canonicalJson would: the gateway
 * encodes every entry it logs, and sorting the same fourteen keys each time showed in its profile.
 */
export function encodeEntry(entry: AuditEntry): Uint8Array {
  let text = "{";
  for (const key of ENTRY_KEYS) {
    const value = entry[key];
    if (value === undefined) continue;
    text += `${text.length > 1 ? "," : ""}"${key}":${canonicalJson(value)}`;
  }
  return utf8.encode(text + "}");
}

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
