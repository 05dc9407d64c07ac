import type { AuditEntry } from "./auditEntry";

/** JSON with object keys sorted at every depth: the same entry always hashes the same, in any client. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) throw new TypeError("a log entry holds only finite numbers");
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  // A loop, not filter/map/join: the auditor encodes every entry of a log, each with its detail object.
  const keys = Object.keys(value).sort();
  let text = "";
  for (const key of keys) {
    const field = (value as Record<string, unknown>)[key];
    if (field === undefined) continue;
    text += `${text.length > 0 ? "," : ""}${JSON.stringify(key)}:${canonicalJson(field)}`;
  }
  return `{${text}}`;
}

const utf8 = new TextEncoder();
/** An entry's fields in the order canonical JSON sorts them. */
const ENTRY_KEYS = ["actor", "at", "category", "detail", "grantBlock", "grantTx", "grantee", "index", "kind", "payloadHash", "prevHash", "purpose", "requestId", "subject"] as const;

/**
 * The bytes of an entry that its leaf commits to: the canonical JSON of its fields (and of nothing
 * else it may carry), as UTF-8.
 */
export function encodeEntry(entry: AuditEntry): Uint8Array {
  return utf8.encode(entryText(entry));
}

/**
 * The canonical JSON of an entry's fields, as text. Written by the engine's own JSON.stringify over
 * a copy with every key in sorted order, which it keeps, about half the cost of writing it out
 * field by field (the auditor encodes every entry of a log). Where the engine would order keys
 * otherwise (integer-like keys come first) or write a value differently (undefined in an array,
 * objects of other kinds), the entry is written out field by field.
 */
export function entryText(entry: AuditEntry): string {
  const e = entry as unknown as Record<string, unknown>;
  const fields = ENTRY_KEYS.map((key) => (e[key] === undefined ? undefined : sortedCopy(e[key])));
  if (fields.includes(UNLIKE)) return entryTextByField(entry);
  const [actor, at, category, detail, grantBlock, grantTx, grantee, index, kind, payloadHash, prevHash, purpose, requestId, subject] = fields;
  // One literal, one shape for every entry; JSON.stringify leaves out the fields that are undefined, as canonicalJson does.
  return JSON.stringify({ actor, at, category, detail, grantBlock, grantTx, grantee, index, kind, payloadHash, prevHash, purpose, requestId, subject });
}

function entryTextByField(entry: AuditEntry): string {
  let text = "{";
  for (const key of ENTRY_KEYS) {
    const value = entry[key];
    if (value === undefined) continue;
    text += `${text.length > 1 ? "," : ""}"${key}":${canonicalJson(value)}`;
  }
  return text + "}";
}

/** A value JSON.stringify would not write as canonicalJson does. */
const UNLIKE = Symbol("unlike");
const INTEGER_LIKE = /^(?:0|[1-9][0-9]*)$/;

/** `value` with every object's keys inserted in sorted order, or UNLIKE. */
function sortedCopy(value: unknown): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (!Number.isFinite(value)) throw new TypeError("a log entry holds only finite numbers");
      return value;
    case "object":
      break;
    default:
      return UNLIKE;
  }
  if (value === null) return null;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = value[i] === undefined ? UNLIKE : sortedCopy(value[i]);
      if (item === UNLIKE) return UNLIKE;
      out[i] = item;
    }
    return out;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return UNLIKE;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    // A key "__proto__" would set the copy's prototype instead.
    if (INTEGER_LIKE.test(key) || key === "__proto__") return UNLIKE;
    const field = (value as Record<string, unknown>)[key];
    if (field === undefined) continue;
    const item = sortedCopy(field);
    if (item === UNLIKE) return UNLIKE;
    out[key] = item;
  }
  return out;
}
