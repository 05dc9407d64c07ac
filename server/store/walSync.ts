import { closeSync, fdatasync, fsyncSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Syncs a SQLite database's WAL to disk from libuv's threads, so that commits made with
 * `synchronous = NORMAL` become durable without the event loop waiting for the disk. A caller
 * arriving while a sync runs may have committed after it began: it waits for the next one, which
 * every caller arriving meanwhile shares.
 */
export class WalSync {
  private wal: { fd: number; ino: number } | null = null;
  private syncing: Promise<void> | null = null;
  private nextSync: Promise<void> | null = null;
  /**
   * The first failed sync, for good: Linux reports a lost write once, so a later sync of the same
   * file can succeed over pages that never reached the disk. Nothing is called durable after it.
   */
  private failure: Error | null = null;

  constructor(private readonly databasePath: string) {}

  /** The failure that ended durability, if one did. */
  get failed(): Error | null {
    return this.failure;
  }

  /** Resolves once everything committed before the call is on disk. */
  sync(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.syncing) {
      const startNext = () => {
        this.nextSync = null;
        return this.sync();
      };
      this.nextSync ??= this.syncing.then(startNext, startNext);
      return this.nextSync;
    }
    let fd: number;
    try {
      fd = this.walFd();
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const sync = new Promise<void>((resolve, reject) =>
      fdatasync(fd, (error) => {
        if (!error) return resolve();
        this.failure ??= new Error(`the access log could not be written to disk: ${error.message}`, { cause: error });
        reject(this.failure);
      }),
    );
    this.syncing = sync.finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  close(): void {
    if (!this.wal) return;
    // Not under a sync still running on it, which would then sync whatever file reuses the number.
    const { fd } = this.wal;
    if (this.syncing) void this.syncing.finally(() => closeSync(fd)).catch(() => undefined);
    else closeSync(fd);
    this.wal = null;
  }

  /**
   * The WAL file, opened once; again if SQLite ever replaced it, so that the right file is synced.
   * A new WAL's directory entry is synced too, once: SQLite would do so at its own first sync of it,
   * which NORMAL commits skip.
   */
  private walFd(): number {
    const path = `${this.databasePath}-wal`;
    const ino = statSync(path).ino;
    if (this.wal?.ino !== ino) {
      if (this.wal) closeSync(this.wal.fd);
      this.wal = { fd: openSync(path, "r"), ino };
      const directory = openSync(dirname(path), "r");
      try {
        fsyncSync(directory);
      } finally {
        closeSync(directory);
      }
    }
    return this.wal.fd;
  }
}
