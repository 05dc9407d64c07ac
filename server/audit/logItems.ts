import { open, unpack } from "../crypto/envelope";
import { payloadHash } from "../data/payloadHash";
import type { AccessLogEntry } from "../store/types";

/** A value as the store keeps it, with what opens it. */
export interface SealedValue {
  /** iv | tag | ciphertext, as `pack` lays them out. */
  sealed: Uint8Array;
  /** The subject's data key. */
  key: Uint8Array;
  /** What the value was sealed to. */
  aad: string;
}

/** An entry for the access log; for a release, with the value it releases, still sealed. */
export interface LogItem {
  entry: AccessLogEntry;
  release?: SealedValue;
}

/** An item's place in the log, and a release's value as it was stored, parsed; or why it was refused and left out. */
export type LogOutcome = { index: number; value?: unknown } | { refused: string };

/** A Buffer over the same bytes, without copying them. */
export const asBuffer = (bytes: Uint8Array): Buffer => (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Opens the values of a batch's releases, and stamps each release's entry with the keyed hash of the
 * value it releases: whoever writes the entries opens the values, so a value is in the clear only
 * once the entry that records its release is about to be written. A value that does not open (a
 * damaged or altered record), or opens to anything but UTF-8 JSON, refuses its item alone, and
 * its entry is left out: nothing was released. `entries` are those to write, in order; `outcomes` takes the indexes they were given.
 */
export function openItems(payloadKey: Uint8Array, items: LogItem[]): { entries: AccessLogEntry[]; outcomes: (indexes: number[]) => LogOutcome[] } {
  const entries: AccessLogEntry[] = [];
  const opened = items.map(({ entry, release }): { value?: unknown } | { refused: string } => {
    if (!release) {
      entries.push(entry);
      return {};
    }
    const { subject, category } = entry;
    // A caller's mistake, not a damaged value: the whole batch fails.
    if (subject === null || category === null) throw new TypeError("a release's log entry names its subject and category");
    let plaintext: Buffer;
    let value: unknown;
    try {
      plaintext = open(asBuffer(release.key), unpack(asBuffer(release.sealed)), release.aad);
      value = JSON.parse(utf8.decode(plaintext));
    } catch (error) {
      return { refused: `the stored value did not open: ${error instanceof Error ? error.message : String(error)}` };
    }
    entries.push({ ...entry, payloadHash: payloadHash(payloadKey, subject, category, plaintext) });
    return { value };
  });
  return {
    entries,
    outcomes: (indexes) => {
      let next = 0;
      return opened.map((o) => ("refused" in o ? o : { ...o, index: indexes[next++] }));
    },
  };
}
