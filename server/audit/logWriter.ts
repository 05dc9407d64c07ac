import { MessageChannel, receiveMessageOnPort, type MessagePort, type Worker } from "node:worker_threads";
import { sourceExtension, startWorker } from "../../core/startWorker";
import { join } from "node:path";
import type { LogSink } from "./accessLog";
import type { AccessLogEntry } from "../store/types";
import { asBuffer, type LogItem, type LogOutcome } from "./logItems";

/** A log item as it travels to the thread: a release's bytes as latin1 strings (see toWire). */
export type WireItem = { entry: AccessLogEntry; release?: { sealed: string; key: string; aad: string } };
export type LogWriterRequest = { type: "append"; id: number; items: WireItem[] } | { type: "close" };
export type LogWriterReply =
  | { type: "appended"; results: { id: number; outcomes: LogOutcome[] }[] }
  | { type: "failed"; ids: number[]; error: string }
  | { type: "closed" };

/** The log's writer thread died or was closed: nothing more can be logged, so nothing more is released. */
export class LogWriterStoppedError extends Error {}

/**
 * Durable appends to the access log from a writer thread of their own. Encoding, hashing, inserting
 * and committing each entry cost a release about an eighth of its CPU on the event loop, which
 * serves every request on one core; the thread does that work beside it. The writer is a second
 * SQLite connection to the same file: the store begins every write transaction IMMEDIATE and waits
 * on a busy lock, so the two never see a stale snapshot, and each entry still chains to the one
 * committed before it, whichever connection wrote that. The thread commits every batch waiting for
 * it in one transaction and one sync, however many the event loop handed over meanwhile.
 *
 * It also opens the values of the releases it logs (see openItems): decrypting a value took a
 * release about a tenth of its time on the event loop, where the thread has time to spare.
 *
 * Fails closed: once the thread is gone, every append in flight and every later one is refused.
 */
export class LogWriter implements LogSink {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (outcomes: LogOutcome[]) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  private stopped: Error | null = null;
  private closeRequested = false;
  private readonly exited: Promise<void>;
  private committed = 0;
  /** The thread's answers, on a port of their own so that they can be taken synchronously. */
  private readonly replies: MessagePort;

  /** `payloadKey` keys the hashes of released values in the log, as DataService keys those of written ones. */
  constructor(databasePath: string, payloadKey: Uint8Array) {
    const { port1, port2 } = new MessageChannel();
    this.replies = port1;
    this.worker = startWorker(join(__dirname, `logWriterWorker${sourceExtension}`), { databasePath, payloadKey: new Uint8Array(payloadKey), replies: port2 }, [port2]);
    // The gateway closes it on shutdown; a gateway left open (a test's) must not keep the process alive.
    this.worker.unref();
    this.replies.unref();
    this.replies.on("message", (reply: LogWriterReply) => this.receive(reply));
    this.worker.on("error", (error: Error) => this.stop(new LogWriterStoppedError(`the access log's writer thread failed: ${error.message}`, { cause: error })));
    this.exited = new Promise((resolve) =>
      this.worker.once("exit", (code) => {
        this.stop(new LogWriterStoppedError(`the access log's writer thread exited (code ${code})`));
        resolve();
      }),
    );
  }

  /** Why the writer stopped taking entries (its thread failed or exited), or null while it works. */
  get failure(): Error | null {
    return this.closeRequested ? null : this.stopped;
  }

  /**
   * Takes the answers the thread has sent, now, without waiting for the event loop to come round to
   * them: a busy loop reaches its message port only after every socket ready in the same turn, which
   * kept each release waiting about 1.5 ms longer than its commit took (measured in the bench).
   */
  collectReplies(): void {
    for (let next = receiveMessageOnPort(this.replies); next; next = receiveMessageOnPort(this.replies)) this.receive(next.message as LogWriterReply);
  }

  /** Commits the items in one transaction, after every batch handed over before; resolves once they are on disk. */
  append(items: LogItem[]): Promise<LogOutcome[]> {
    if (this.stopped) return Promise.reject(this.stopped);
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: "append", id, items: items.map(toWire) } satisfies LogWriterRequest);
    });
  }

  /** How many transactions the thread has committed: fewer than the batches handed over, under load. */
  get commits(): number {
    return this.committed;
  }

  /** Lets every batch already handed over reach the disk, then ends the thread. */
  close(): Promise<void> {
    if (!this.stopped && !this.closeRequested) this.worker.postMessage({ type: "close" } satisfies LogWriterRequest);
    this.closeRequested = true;
    return this.exited;
  }

  private receive(reply: LogWriterReply): void {
    if (reply.type === "closed") return this.stop(new LogWriterStoppedError("the access log's writer thread was closed"));
    if (reply.type === "failed") {
      const error = new Error(`the access log could not be written: ${reply.error}`);
      for (const id of reply.ids) this.settle(id)?.reject(error);
      return;
    }
    // A round whose every release was refused wrote nothing.
    if (reply.results.some(({ outcomes }) => outcomes.some((o) => "index" in o))) this.committed += 1;
    for (const { id, outcomes } of reply.results) this.settle(id)?.resolve(outcomes);
  }

  private settle(id: number): { resolve: (outcomes: LogOutcome[]) => void; reject: (error: Error) => void } | undefined {
    const pending = this.pending.get(id);
    this.pending.delete(id);
    return pending;
  }

  private stop(reason: Error): void {
    this.stopped ??= reason;
    for (const { reject } of this.pending.values()) reject(this.stopped);
    this.pending.clear();
  }
}

/**
 * A release's bytes as latin1 strings, one character a byte, copied as they are. A typed array
 * travels in a message with a buffer of its own (the whole of Node's shared 8 KB pool, for a small
 * Buffer): handing over a batch of ten releases cost the event loop 26 µs so, 14 µs as strings and
 * 10 µs without the bytes (measured side by side). A string cannot be wiped, so a data key stays in
 * both threads' heaps until it is collected: no longer than the keyring keeps it unwrapped anyway.
 */
const toWire = ({ entry, release }: LogItem): WireItem =>
  release ? { entry, release: { sealed: latin1(release.sealed), key: latin1(release.key), aad: release.aad } } : { entry };

const latin1 = (bytes: Uint8Array): string => asBuffer(bytes).toString("latin1");

/** The thread's side of toWire. */
export const fromWire = ({ entry, release }: WireItem): LogItem =>
  release ? { entry, release: { sealed: Buffer.from(release.sealed, "latin1"), key: Buffer.from(release.key, "latin1"), aad: release.aad } } : { entry };
