import type { AccessLogEntry, AccessLogStore } from "../store/types";
import { openItems, type LogItem, type LogOutcome, type SealedValue } from "./logItems";

/** Where the log's batches go: the writer thread, or the store from this thread. */
export interface LogSink {
  append(items: LogItem[]): Promise<LogOutcome[]>;
  /** Takes the answers already given, if the sink can, without waiting for the event loop. */
  collectReplies?(): void;
}

type Written = Extract<LogOutcome, { index: number }>;

interface Pending {
  item: LogItem;
  resolve: (outcome: Written) => void;
  reject: (error: unknown) => void;
}

/** A release's value that did not open: nothing was released, nothing logged. */
export class SealedValueError extends Error {
  override readonly name = "SealedValueError";
}

/**
 * The append-only access log. Appends issued in the same turn of the event loop are committed
 * together in one SQLite transaction (group commit), and batches committed while the disk is busy
 * share the next sync: each caller's promise resolves only after its entry is on disk, so a release
 * is logged before its response is sent, without one fsync per release or any on the event loop.
 * A release hands over its value still sealed; whoever writes the entry opens it (see openItems).
 *
 * With `flushAt`, a batch is handed over as soon as it holds that many entries, without waiting for
 * the end of the turn: when a writer thread commits it, the first releases of a burst of requests
 * are on their way to the disk while the event loop still parses the rest. A writer that can hand
 * back its answers on demand (`collectReplies`) is asked at every append, so those releases are
 * answered within the same busy turn rather than after it.
 */
export class AccessLog {
  private queue: Pending[] = [];
  private scheduled = false;

  constructor(
    private readonly sink: LogSink,
    private readonly options: { flushAt?: number } = {},
  ) {}

  /** Logs an entry; resolves with its index once it is on disk. */
  append(entry: AccessLogEntry): Promise<number> {
    return new Promise((resolve, reject) => this.enqueue({ item: { entry }, resolve: (written) => resolve(written.index), reject }));
  }

  /**
   * Logs a release of `value`, opened by the writer, which stamps the entry with the value's keyed
   * hash; resolves with the entry's index and the value, parsed, once the entry is on disk.
   */
  appendRelease(entry: AccessLogEntry, value: SealedValue): Promise<{ index: number; value: unknown }> {
    return new Promise((resolve, reject) => this.enqueue({ item: { entry, release: value }, resolve: ({ index, value }) => resolve({ index, value }), reject }));
  }

  private enqueue(pending: Pending): void {
    this.sink.collectReplies?.();
    this.queue.push(pending);
    if (this.queue.length >= (this.options.flushAt ?? Infinity)) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  private flush(): void {
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    let written: Promise<LogOutcome[]>;
    try {
      written = this.sink.append(batch.map((p) => p.item));
    } catch (error) {
      written = Promise.reject(error);
    }
    written.then(
      (outcomes) => {
        // A sink that answers for other items than it was given has lost track: nothing is vouched for.
        if (outcomes.length !== batch.length) {
          const error = new Error(`the log's writer answered ${outcomes.length} outcomes for ${batch.length} items`);
          return batch.forEach((pending) => pending.reject(error));
        }
        batch.forEach((pending, i) => {
          const outcome = outcomes[i];
          if ("refused" in outcome) pending.reject(new SealedValueError(outcome.refused));
          // Logged, but without the value it released: the caller has nothing to answer with.
          else if (pending.item.release && !("value" in outcome)) pending.reject(new Error("the log's writer answered a release without its value"));
          else pending.resolve(outcome);
        });
      },
      (error: unknown) => batch.forEach((pending) => pending.reject(error)),
    );
  }
}

/** The store, written from this thread: each release's value is opened here, then the batch is appended. */
export function storeSink(store: Pick<AccessLogStore, "appendLogDurably">, payloadKey: Uint8Array): LogSink {
  return {
    async append(items) {
      const { entries, outcomes } = openItems(payloadKey, items);
      return outcomes(entries.length > 0 ? await store.appendLogDurably(entries) : []);
    },
  };
}

/** A log entry with every field not given set to null, stamped now. */
export const logEntry = (partial: Partial<AccessLogEntry> & Pick<AccessLogEntry, "kind" | "requestId">): AccessLogEntry => ({
  at: Date.now(),
  actor: null,
  subject: null,
  grantee: null,
  category: null,
  purpose: null,
  grantBlock: null,
  grantTx: null,
  payloadHash: null,
  detail: null,
  ...partial,
});
