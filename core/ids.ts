import { AbiCoder, keccak256, toUtf8Bytes } from "ethers";

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

const grantIds = new Map<string, string>();

/** The id of a grant, as `DataUseRegistry.grantIdOf` computes it (recent ones remembered, as above). */
export function grantIdOf(subject: string, grantee: string, categoryId: string, purposeId: string): string {
  const key = `${subject}|${grantee}|${categoryId}|${purposeId}`.toLowerCase();
  let id = grantIds.get(key);
  if (id === undefined) {
    id = keccak256(
      AbiCoder.defaultAbiCoder().encode(["address", "address", "bytes32", "bytes32"], [subject, grantee, categoryId, purposeId]),
    );
    if (grantIds.size >= LABEL_CACHE_LIMIT) grantIds.clear();
    grantIds.set(key, id);
  }
  return id;
}
