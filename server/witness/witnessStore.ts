import { createHash } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";

/** The latest checkpoint a witness cosigned for one log. */
export interface WitnessedCheckpoint {
  origin: string;
  treeSize: number;
  /** 0x-hex. */
  rootHash: string;
  /** The signed note as the log sent it. */
  note: string;
}

/** Two checkpoints of one log and one size with different roots, both validly signed by the log. */
export interface Equivocation {
  origin: string;
  treeSize: number;
  /** The note the witness held, and the one it was then shown. */
  notes: [string, string];
  seenAt: number;
}

/** Writes a file whole or not at all: a temp file, synced, renamed over the old one, the directory synced. */
export function writeFileAtomic(path: string, contents: string, mode = 0o644): void {
  const dir = join(path, "..");
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", mode);
  try {
    writeSync(fd, contents);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dirFd = openSync(dir, "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

const fileOf = (origin: string) => createHash("sha256").update(origin, "utf8").digest("hex").slice(0, 32);

/**
 * A witness's state on disk: one file per log holding the latest cosigned checkpoint, and one file
 * per equivocation it was shown. Synchronous, so that a request's check and its write happen with
 * no other request in between (tlog-witness asks for that atomicity: a slower request for an older
 * size must not roll the record back).
 */
export class WitnessStore {
  private readonly logsDir: string;
  private readonly equivocationsDir: string;
  private readonly latest = new Map<string, WitnessedCheckpoint>();

  constructor(readonly dir: string) {
    this.logsDir = join(dir, "logs");
    this.equivocationsDir = join(dir, "equivocations");
    mkdirSync(this.logsDir, { recursive: true });
    mkdirSync(this.equivocationsDir, { recursive: true });
    for (const name of readdirSync(this.logsDir)) {
      if (!name.endsWith(".json")) continue;
      const record = JSON.parse(readFileSync(join(this.logsDir, name), "utf8")) as WitnessedCheckpoint;
      this.latest.set(record.origin, record);
    }
  }

  latestFor(origin: string): WitnessedCheckpoint | null {
    return this.latest.get(origin) ?? null;
  }

  /** Persists the new latest checkpoint of its log before the caller answers. */
  saveLatest(record: WitnessedCheckpoint): void {
    writeFileAtomic(join(this.logsDir, `${fileOf(record.origin)}.json`), JSON.stringify(record, null, 2));
    this.latest.set(record.origin, record);
  }

  /** Keeps both notes as proof; returns the file written. */
  saveEquivocation(evidence: Equivocation): string {
    const path = join(this.equivocationsDir, `${fileOf(evidence.origin)}-${evidence.treeSize}-${createHash("sha256").update(evidence.notes[1]).digest("hex").slice(0, 16)}.json`);
    if (!existsSync(path)) writeFileAtomic(path, JSON.stringify(evidence, null, 2));
    return path;
  }

  equivocations(): Equivocation[] {
    return readdirSync(this.equivocationsDir)
      .filter((name) => name.endsWith(".json"))
      .sort()
      .map((name) => JSON.parse(readFileSync(join(this.equivocationsDir, name), "utf8")) as Equivocation);
  }
}
