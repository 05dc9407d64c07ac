import type { AccessLogEntry, AccessLogStore } from "../store/types";

interface Pending {
  entry: AccessLogEntry;
  resolve: (index: number) => void;
  reject: (error: unknown) => void;
}

/**
 * The append-only access log. Appends issued in the same turn of the event loop are committed
 * together in one SQLite transaction (group commit), and batches committed while the disk is busy
 * share the next sync: each caller's promise resolves only after its entry is on disk, so a release
 * is logged before its response is sent, without one fsync per release or any on the event loop.
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
    private readonly writer: Pick<AccessLogStore, "appendLogDurably"> & { collectReplies?: () => void },
    private readonly options: { flushAt?: number } = {},
  ) {}

  append(entry: AccessLogEntry): Promise<number> {
    this.writer.collectReplies?.();
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      if (this.queue.length >= (this.options.flushAt ?? Infinity)) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    let committed: Promise<number[]>;
    try {
      committed = this.writer.appendLogDurably(batch.map((p) => p.entry));
    } catch (error) {
      committed = Promise.reject(error);
    }
    committed.then(
      (indexes) => batch.forEach((pending, i) => pending.resolve(indexes[i])),
      (error: unknown) => batch.forEach((pending) => pending.reject(error)),
    );
  }
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
