import { expect } from "chai";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { entryLeafHash, ZERO_HASH } from "../../core/auditEntry";
import { nodeHasher } from "../../core/merkleTree";
import { SqliteStore } from "../../server/store/sqlite";
import { AccessLog, SealedValueError, logEntry, storeSink, type LogSink } from "../../server/audit/accessLog";
import type { LogItem, LogOutcome } from "../../server/audit/logItems";
import { LogWriter, LogWriterStoppedError } from "../../server/audit/logWriter";
import { newDataKey, pack, seal } from "../../server/crypto/envelope";
import { payloadHash } from "../../server/data/payloadHash";
import type { AccessLogEntry } from "../../server/store/types";
import { removeDir } from "../helpers/gateway";

/** Blocks this thread: the event loop gets no turn meanwhile. */
const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

const entry = (requestId: string) => logEntry({ kind: "release", requestId, actor: "0x" + "cd".repeat(20), detail: { headBlock: 7 } });
const items = (...entries: AccessLogEntry[]): LogItem[] => entries.map((e) => ({ entry: e }));
/** The indexes the items were given, or why one was refused. */
const indexesOf = (outcomes: LogOutcome[]) => outcomes.map((o) => ("index" in o ? o.index : o.refused));
/** The indexes the items were given; throws if one was refused. */
const writtenIndexes = (outcomes: LogOutcome[]) =>
  outcomes.map((o) => {
    if ("refused" in o) throw new Error(`refused: ${o.refused}`);
    return o.index;
  });
const payloadKey = Buffer.alloc(32, 9);

describe("access log writer thread", function () {
  let dir: string;
  let store: SqliteStore;
  let writer: LogWriter;

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), "dul-writer-"));
    store = new SqliteStore(join(dir, "log.sqlite"));
    writer = new LogWriter(store.path, payloadKey);
  });
  afterEach(async function () {
    await writer.close();
    store.close();
    removeDir(dir);
  });

  it("commits from its own connection, each entry chained to the one before, whichever connection wrote that", async function () {
    const fromThread: Promise<number[]>[] = [];
    const fromLoop: number[] = [];
    for (let i = 0; i < 40; i++) {
      fromThread.push(writer.append(items(entry(`thread-${i}-a`), entry(`thread-${i}-b`))).then(writtenIndexes));
      // The event loop's own writes (a deletion and its entry, in one transaction) while the thread commits.
      fromLoop.push(...store.transaction(() => store.appendLog([entry(`loop-${i}`)])));
      if (i % 8 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const threadIndexes = (await Promise.all(fromThread)).flat();

    const all = [...threadIndexes, ...fromLoop].sort((a, b) => a - b);
    expect(all).to.deep.equal(Array.from({ length: 120 }, (_, i) => i));
    const log = store.readLog(0, store.logSize());
    expect(log).to.have.length(120);
    const leaves = store.readLeafHashes(0, 120).map((h) => "0x" + h.toString("hex"));
    log.forEach((stored, i) => {
      expect(stored.prevHash, `entry ${i}`).to.equal(i === 0 ? ZERO_HASH : leaves[i - 1]);
      expect(entryLeafHash(stored, nodeHasher), `entry ${i}`).to.equal(leaves[i]);
    });
    // Each batch the thread was handed stays together, in the order given.
    for (let i = 0; i < 40; i++) {
      const [a, b] = await fromThread[i];
      expect(b).to.equal(a + 1);
      expect([log[a].requestId, log[b].requestId]).to.deep.equal([`thread-${i}-a`, `thread-${i}-b`]);
    }
  });

  it("commits every batch that waited for it in one transaction, each batch's entries together and in order", async function () {
    // Another connection holds the write lock, so the thread's first commit waits while the event loop
    // hands over the other batches: they are all in the port when it next looks.
    const other = new Database(store.path);
    other.exec("BEGIN IMMEDIATE");
    const batches = Array.from({ length: 20 }, (_, i) => writer.append(items(entry(`${i}-a`), entry(`${i}-b`))).then(indexesOf));
    await new Promise((resolve) => setTimeout(resolve, 100));
    other.exec("COMMIT");
    other.close();

    expect(await Promise.all(batches)).to.deep.equal(Array.from({ length: 20 }, (_, i) => [2 * i, 2 * i + 1]));
    expect(writer.commits).to.be.within(1, 2);
    expect(store.readLog(0, 40).map((e) => e.requestId)).to.deep.equal(Array.from({ length: 20 }, (_, i) => [`${i}-a`, `${i}-b`]).flat());
  });

  it("answers each batch of one round for its own items, when some releases are refused and a whole batch is", async function () {
    const subject = "0x" + "ab".repeat(20);
    const aad = `record:${subject}:contact.email`;
    const key = newDataKey();
    const good = { sealed: pack(seal(key, Buffer.from('"ok"'), aad)), key, aad };
    const bad = { ...good, aad: `record:${subject}:contact.phone` };
    const release = (requestId: string) => logEntry({ kind: "release", requestId, subject, category: "contact.email" });
    const other = new Database(store.path);
    other.exec("BEGIN IMMEDIATE");
    const rounds = [
      writer.append([{ entry: release("1-bad"), release: bad }, { entry: entry("1-write") }]),
      writer.append([{ entry: release("2-bad"), release: bad }]),
      writer.append([{ entry: release("3-good"), release: good }, { entry: release("3-bad"), release: bad }, { entry: release("3-good2"), release: good }]),
    ];
    await new Promise((resolve) => setTimeout(resolve, 100));
    other.exec("COMMIT");
    other.close();

    const shapes = (await Promise.all(rounds)).map((outcomes) => outcomes.map((o) => ("refused" in o ? "refused" : [o.index, o.value ?? null])));
    expect(shapes).to.deep.equal([["refused", [0, null]], ["refused"], [[1, "ok"], "refused", [2, "ok"]]]);
    expect(writer.commits).to.equal(1);
    expect(store.readLog(0, store.logSize()).map((e) => e.requestId)).to.deep.equal(["1-write", "3-good", "3-good2"]);
  });

  it("takes the thread's answers when asked, while the event loop is still busy, and each append asks", function () {
    const log = new AccessLog(writer, { flushAt: 1 });
    void log.append(entry("first"));
    // Without yielding to the event loop: the commit lands, and the answer waits in the port.
    const deadline = Date.now() + 10_000;
    while (store.logSize() < 1 && Date.now() < deadline) sleepSync(5);
    sleepSync(50);
    expect(writer.commits).to.equal(0);
    void log.append(entry("second"));
    expect(writer.commits).to.equal(1);
  });

  it("refuses a batch its transaction could not commit, and commits the next one in its place", async function () {
    // A value SQLite cannot bind: the insert throws inside the transaction, which rolls back.
    const unbindable = { ...entry("bad"), actor: { not: "a string" } } as unknown as AccessLogEntry;
    await expect(writer.append(items(entry("rolled-back"), unbindable))).to.be.rejectedWith("the access log could not be written");
    expect(indexesOf(await writer.append(items(entry("next"))))).to.deep.equal([0]);
    expect(store.readLog(0, store.logSize()).map((e) => e.requestId)).to.deep.equal(["next"]);
  });

  it("is why every write transaction takes the write lock when it begins: no commit can come between its read and its write", function () {
    const other = new Database(store.path);
    other.pragma("busy_timeout = 0");
    try {
      store.transaction(() => {
        store.logSize();
        // A deferred transaction holds only a read lock here; another connection's commit now would
        // leave it writing on a stale snapshot (SQLITE_BUSY_SNAPSHOT).
        expect(() => other.prepare("INSERT INTO meta (key, value) VALUES ('probe', 'x')").run()).to.throw(/database is locked/);
        store.appendLog([entry("loop")]);
      });
    } finally {
      other.close();
    }
    expect(store.logSize()).to.equal(1);
  });

  it("lets every batch handed over reach the disk on close, and refuses appends after it", async function () {
    const batches = [writer.append(items(entry("a"))), writer.append(items(entry("b"), entry("c")))];
    await writer.close();
    expect((await Promise.all(batches)).map(indexesOf)).to.deep.equal([[0], [1, 2]]);
    const reopened = new SqliteStore(store.path);
    try {
      expect(reopened.logSize()).to.equal(3);
    } finally {
      reopened.close();
    }
    await expect(writer.append(items(entry("late")))).to.be.rejectedWith(LogWriterStoppedError);
  });

  it("fails closed when its thread fails: the appends in flight and every later one are refused", async function () {
    // A database path under a plain file: the thread cannot open it and dies.
    const file = join(dir, "not-a-directory");
    writeFileSync(file, "");
    const broken = new LogWriter(join(file, "log.sqlite"), payloadKey);
    const inFlight = broken.append(items(entry("a")));
    await expect(inFlight).to.be.rejectedWith(LogWriterStoppedError, "writer thread");
    await expect(broken.append(items(entry("b")))).to.be.rejectedWith(LogWriterStoppedError);
    await broken.close();
  });
});

describe("access log batches", function () {
  it("refuses every item of a batch its sink answers for with another count of outcomes", async function () {
    const log = new AccessLog({ append: () => Promise.resolve([{ index: 0 }]) });
    const appended = [log.append(entry("a")), log.append(entry("b"))];
    for (const one of appended) await expect(one).to.be.rejectedWith("answered 1 outcomes for 2 items");
  });

  it("refuses a release its sink logged but answered without the value", async function () {
    const log = new AccessLog({ append: () => Promise.resolve([{ index: 0 }]) });
    const release = log.appendRelease(entry("r"), { sealed: new Uint8Array(28), key: new Uint8Array(32), aad: "record:x:y" });
    await expect(release).to.be.rejectedWith("without its value");
  });

  it("hands a batch over as soon as it holds flushAt entries, and the rest at the end of the turn", async function () {
    const handed: string[][] = [];
    const writer: LogSink = {
      append: (batch) => {
        handed.push(batch.map((item) => item.entry.requestId));
        return Promise.resolve(batch.map((_, i) => ({ index: handed.length * 100 + i })));
      },
    };
    const log = new AccessLog(writer, { flushAt: 2 });
    const appended = ["a", "b", "c", "d", "e"].map((id) => log.append(entry(id)));
    expect(handed).to.deep.equal([["a", "b"], ["c", "d"]]);
    expect(await Promise.all(appended)).to.deep.equal([100, 101, 200, 201, 300]);
    expect(handed).to.deep.equal([["a", "b"], ["c", "d"], ["e"]]);
  });
});

/** The writer thread and the store written from this thread open releases alike. */
for (const [name, sinkOn] of [
  ["the writer thread", (store: SqliteStore) => new LogWriter(store.path, payloadKey)],
  ["the store from this thread", (store: SqliteStore) => storeSink(store, payloadKey)],
] as const) {
  describe(`releases logged by ${name}`, function () {
    const subject = "0x" + "ab".repeat(20);
    const category = "contact.email";
    const aad = `record:${subject}:${category}`;
    const key = newDataKey();
    const plaintext = Buffer.from(JSON.stringify({ email: "alice@example.org" }), "utf8");
    // A view at an offset into Node's shared pool, as small Buffers from the store and keyring are.
    const sealed = Buffer.from(pack(seal(key, plaintext, aad)));
    const release = (requestId: string) => logEntry({ kind: "release", requestId, actor: "0x" + "cd".repeat(20), subject, grantee: "0x" + "cd".repeat(20), category });
    let dir: string;
    let store: SqliteStore;
    let sink: LogSink & { close?: () => Promise<void> };

    beforeEach(function () {
      dir = mkdtempSync(join(tmpdir(), "dul-open-"));
      store = new SqliteStore(join(dir, "log.sqlite"));
      sink = sinkOn(store);
    });
    afterEach(async function () {
      await sink.close?.();
      store.close();
      removeDir(dir);
    });

    it("opens the value, logs its keyed hash in the release's entry, and answers it once the entry is written", async function () {
      const outcomes = await sink.append([{ entry: entry("write") }, { entry: release("r1"), release: { sealed, key, aad } }]);
      expect(outcomes).to.deep.equal([{ index: 0 }, { index: 1, value: { email: "alice@example.org" } }]);
      const [written, released] = store.readLog(0, 2);
      expect(written.payloadHash).to.equal(null);
      expect(released.payloadHash).to.equal(payloadHash(payloadKey, subject, category, plaintext));
      expect(JSON.stringify(released)).not.to.contain("alice@example.org");
    });

    it("refuses a release whose value does not open, alone: its entry is not written, the rest of the batch is", async function () {
      const altered = Buffer.from(sealed);
      altered[altered.length - 1] ^= 1;
      const outcomes = await sink.append([
        { entry: release("altered"), release: { sealed: altered, key, aad } },
        { entry: release("moved"), release: { sealed, key, aad: `record:${subject}:contact.phone` } },
        { entry: release("not-json"), release: { sealed: pack(seal(key, Buffer.from("{not json", "utf8"), aad)), key, aad } },
        { entry: release("not-utf8"), release: { sealed: pack(seal(key, Buffer.from([0x22, 0xff, 0x22]), aad)), key, aad } },
        { entry: entry("write") },
        { entry: release("good"), release: { sealed, key, aad } },
      ]);
      expect(outcomes.map((o) => ("refused" in o ? "refused" : o.index))).to.deep.equal(["refused", "refused", "refused", "refused", 0, 1]);
      expect(store.readLog(0, store.logSize()).map((e) => e.requestId)).to.deep.equal(["write", "good"]);
    });

    it("through the access log: the release resolves with its index and value, a value that does not open rejects", async function () {
      const log = new AccessLog(sink);
      const good = log.appendRelease(release("good"), { sealed, key, aad });
      const bad = log.appendRelease(release("bad"), { sealed, key: newDataKey(), aad });
      expect(await good).to.deep.equal({ index: 0, value: { email: "alice@example.org" } });
      await expect(bad).to.be.rejectedWith(SealedValueError, "did not open");
      expect(store.logSize()).to.equal(1);
    });
  });
}
