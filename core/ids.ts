import { keccak256, toUtf8Bytes } from "ethers";
import { createKeccak, type IHasher } from "hash-wasm";

let wasmKeccak: IHasher | null = null;
let loading: Promise<void> | null = null;

/**
 * Compiles the WebAssembly keccak, once. Ids are the same either way: until it is loaded, or where
 * WebAssembly is unavailable, ethers' JavaScript keccak computes them, several times slower,
 * which is what bounded the indexer's catch-up. Only the
 * gateway asks for it: the wallet page derives a few ids, and its CSP need not allow WebAssembly.
 */
export function loadFastKeccak(): Promise<void> {
  loading ??= createKeccak(256).then(
    (hasher) => void (wasmKeccak = hasher),
    () => undefined,
  );
  return loading;
}

/** keccak256 of 0x-prefixed hex bytes the caller has already checked, as lower-case 0x-prefixed hex. */
function keccakHex(hex: string): string {
  if (!wasmKeccak) return keccak256(hex);
  const bytes = new Uint8Array((hex.length - 2) / 2);
  // Digit codes 48-57 → 0-9; letters, folded to lower case, 97-102 → 10-15.
  const nibble = (code: number) => (code <= 57 ? code - 48 : (code | 32) - 87);
  for (let i = 0, j = 2; i < bytes.length; i++, j += 2) bytes[i] = (nibble(hex.charCodeAt(j)) << 4) | nibble(hex.charCodeAt(j + 1));
  return "0x" + wasmKeccak.init().update(bytes).digest("hex");
}

const labelIds = new Map<string, string>();
const LABEL_CACHE_LIMIT = 10_000;

/**
 * The canonical on-chain id of a category or purpose label: keccak256 of its UTF-8 bytes.
 * Labels are case-sensitive and used as written: `contact.email`, `dpv:Marketing`.
 * Ids of recently used labels are remembered: the gateway maps the same few labels on every request.
 */
export function labelToId(label: string): string {
  let id = labelIds.get(label);
  if (id === undefined) {
    if (label.length === 0) throw new RangeError("a label must not be empty");
    id = keccak256(toUtf8Bytes(label));
    if (labelIds.size >= LABEL_CACHE_LIMIT) labelIds.clear();
    labelIds.set(label, id);
  }
  return id;
}

/** A 0x-prefixed 20-byte address in hex, any case: the one pattern every layer checks addresses with. */
export const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
/** 0x-prefixed 32 bytes in hex, any case: ids, hashes, ABI words. */
export const BYTES32 = /^0x[0-9a-fA-F]{64}$/;

/**
 * The id of a grant, as `DataUseRegistry.grantIdOf` computes it: keccak256(abi.encode(subject,
 * grantee, category, purpose)), four static words laid side by side: ethers' ABI coder was the
 * slowest step of indexing a GrantIssued log.
 */
export function grantIdOf(subject: string, grantee: string, categoryId: string, purposeId: string): string {
  const key = `${subject}/${grantee}/${categoryId}/${purposeId}`;
  const known = grantIds.get(key);
  if (known !== undefined) return known;
  if (!ADDRESS.test(subject) || !ADDRESS.test(grantee)) throw new TypeError(`grantIdOf: not an address: ${ADDRESS.test(subject) ? grantee : subject}`);
  if (!BYTES32.test(categoryId) || !BYTES32.test(purposeId)) throw new TypeError(`grantIdOf: not 32 bytes: ${BYTES32.test(categoryId) ? purposeId : categoryId}`);
  const pad = "000000000000000000000000";
  const id = keccakHex(`0x${pad}${subject.slice(2)}${pad}${grantee.slice(2)}${categoryId.slice(2)}${purposeId.slice(2)}`);
  if (grantIds.size >= GRANT_ID_CACHE_LIMIT) grantIds.clear();
  grantIds.set(key, id);
  return id;
}

/** Ids of recently asked grants: every release derives the id of the grant it is decided under. */
const grantIds = new Map<string, string>();
const GRANT_ID_CACHE_LIMIT = 10_000;
