import { expect } from "chai";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { Registry } from "prom-client";
import { hexlify, randomBytes } from "ethers";
import { grantIdOf } from "../../core/ids";
import { SqliteStore } from "../../server/store/sqlite";
import { Keyring } from "../../server/crypto/keyring";
import { DeletionService } from "../../server/deletion/deletionService";
import { decide } from "../../server/grants/decision";
import { IndexStaleError, type ChainView } from "../../server/chain/indexer";
import { removeDir } from "../helpers/gateway";
import { eventMiner, randomWord as word } from "../helpers/chainEvents";

/**
 * The scheduler's clock. Releases are denied on either clock; deletion, which cannot be undone,
 * waits for the chain head's time on a fresh view. Clocks and views are injected.
 */
describe("deletion waits for the chain's time on a fresh view", function () {
  const address = () => hexlify(randomBytes(20)).toLowerCase();
  let dir: string;
  let store: SqliteStore;
  let view: ChainView;
  let stale: boolean;
  let wallMs: number;
  let logged: { level: number; msg: string }[];
  let service: DeletionService;
  let metrics: Registry;
  const SKEW = 30;

  const indexer = {
    freshView(): ChainView {
      if (stale) throw new IndexStaleError("the chain was last read long ago");
      return view;
    },
    lastView: (): ChainView | null => view,
  };

  const miner = eventMiner(() => store);
  const mineEvents = miner.mine;
  const headAt = (headTime: number): ChainView => ({ headNumber: miner.block, headHash: word(), headTime, indexedBlock: miner.block, polledAt: wallMs });

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), "dul-clock-"));
    store = new SqliteStore(join(dir, "g.sqlite"));
    stale = false;
    logged = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void logged.push(JSON.parse(line)) });
    service = new DeletionService({
      store,
      keyring: new Keyring(Buffer.alloc(32, 3), store),
      indexer,
      logger,
      intervalMs: 1000,
      maxClockSkewSeconds: SKEW,
      wallClock: () => wallMs,
    });
    metrics = new Registry();
    service.registerMetrics(metrics);
  });
  afterEach(function () {
    store.close();
    removeDir(dir);
  });

  /** A subject's record of a category under a grant, with a data expiry at `dataExpiresAt`. */
  function grantedData(dataExpiresAt: number) {
    const [subject, grantee, category, purpose] = [address(), address(), word(), word()];
    const grantId = grantIdOf(subject, grantee, category, purpose).toLowerCase();
    mineEvents(dataExpiresAt - 1000, { kind: "issued", subject, grantee, category, purpose, grantId, expiresAt: dataExpiresAt + 86_400 });
    mineEvents(dataExpiresAt - 900, { kind: "dataExpiry", subject, category, expiresAt: dataExpiresAt, previousExpiresAt: 0 });
    new Keyring(Buffer.alloc(32, 3), store).keyFor(subject);
    store.putRecord({ subject, category: "email", categoryId: category, sealed: Buffer.from("sealed"), createdAt: 1, updatedAt: 1 });
    return { subject, grantee, category, purpose, grantId };
  }
  const orders = () => service.deletions.listOrders({ limit: 100, offset: 0 });

  it("with the wall clock an hour ahead, denies releases but shreds nothing until the chain's time passes the expiry", function () {
    const dataExpiresAt = Math.floor(Date.now() / 1000) - 7200;
    wallMs = (dataExpiresAt + 3600) * 1000;
    const g = grantedData(dataExpiresAt);
    view = headAt(dataExpiresAt - 10);

    const decision = decide(store, g, view, 0, wallMs);
    expect(decision.allowed).to.equal(false);
    expect(decision.reason).to.equal("DATA_EXPIRED");

    expect(service.runDue()).to.deep.include({ dataExpiries: 0, orders: 0 });
    expect(store.getRecord(g.subject, "email")).to.not.equal(null);
    expect(orders()).to.deep.equal([]);

    view = headAt(dataExpiresAt);
    expect(service.runDue()).to.deep.include({ dataExpiries: 1, orders: 1 });
    expect(store.getRecord(g.subject, "email")).to.equal(null);
    expect(orders().map((o) => [o.reason, o.endedAt])).to.deep.equal([["data-expired", dataExpiresAt]]);
  });

  it("deletes nothing on a stale view, and carries it out once the view is fresh again", function () {
    const dataExpiresAt = Math.floor(Date.now() / 1000) - 7200;
    wallMs = dataExpiresAt * 1000 + 5000;
    const g = grantedData(dataExpiresAt);
    view = headAt(dataExpiresAt + 5);
    stale = true;
    expect(service.runDue()).to.deep.equal({ dataExpiries: 0, orders: 0, waiting: "the chain was last read long ago" });
    expect(store.getRecord(g.subject, "email")).to.not.equal(null);
    expect(orders()).to.deep.equal([]);
    stale = false;
    expect(service.runDue()).to.deep.include({ dataExpiries: 1, orders: 1 });
    expect(store.getRecord(g.subject, "email")).to.equal(null);
  });

  it("deletes nothing while the index has not read up to the head whose time it would go by", function () {
    const dataExpiresAt = Math.floor(Date.now() / 1000) - 7200;
    wallMs = dataExpiresAt * 1000 + 5000;
    const g = grantedData(dataExpiresAt);
    view = { ...headAt(dataExpiresAt + 5), headNumber: miner.block + 2 };
    expect(service.runDue().waiting).to.match(/has read block \d+ of head \d+/);
    expect(store.getRecord(g.subject, "email")).to.not.equal(null);
    view = headAt(dataExpiresAt + 5);
    service.runDue();
    expect(store.getRecord(g.subject, "email")).to.equal(null);
  });

  it("reports a clock skew beyond the bound in /metrics and once per episode in the log", async function () {
    const head = Math.floor(Date.now() / 1000);
    const skewWarnings = () => logged.filter((l) => l.level === 40 && /clock skew/.test(l.msg));
    const gauge = async () => (await metrics.getSingleMetric("dul_clock_skew_seconds")!.get()).values[0]?.value;
    view = headAt(head);
    wallMs = (head + 3600) * 1000;
    for (let i = 0; i < 3; i++) service.runDue();
    expect(await gauge()).to.equal(3600);
    expect(skewWarnings()).to.have.length(1);

    wallMs = (head + SKEW) * 1000;
    service.runDue();
    expect(await gauge()).to.equal(SKEW);
    wallMs = (head - 3600) * 1000;
    service.runDue();
    service.runDue();
    expect(await gauge()).to.equal(-3600);
    expect(skewWarnings()).to.have.length(2);
  });

  it("shreds nothing and orders nothing for ends that only blocks a reorganisation removed had passed", function () {
    const dataExpiresAt = Math.floor(Date.now() / 1000) - 7200;
    wallMs = (dataExpiresAt + 10) * 1000;
    const [subject, grantee, category, purpose] = [address(), address(), word(), word()];
    const grantId = grantIdOf(subject, grantee, category, purpose).toLowerCase();
    mineEvents(dataExpiresAt - 1000, { kind: "issued", subject, grantee, category, purpose, grantId, expiresAt: dataExpiresAt + 86_400 });
    const kept = miner.block;
    new Keyring(Buffer.alloc(32, 3), store).keyFor(subject);
    store.putRecord({ subject, category: "email", categoryId: category, sealed: Buffer.from("sealed"), createdAt: 1, updatedAt: 1 });
    // A data expiry, and a block past it that moves it later: the index keeps the end this hides.
    // Then a reorganisation drops both blocks.
    mineEvents(dataExpiresAt - 900, { kind: "dataExpiry", subject, category, expiresAt: dataExpiresAt, previousExpiresAt: 0 });
    mineEvents(dataExpiresAt + 5, { kind: "dataExpiry", subject, category, expiresAt: dataExpiresAt + 86_400, previousExpiresAt: dataExpiresAt });
    store.rollbackTo(kept);
    view = headAt(dataExpiresAt + 10);
    expect(decide(store, { subject, grantee, category, purpose, grantId }, view, 0, wallMs).allowed).to.equal(true);

    service.runDue();
    expect(store.getRecord(subject, "email")).to.not.equal(null);
    expect(orders()).to.deep.equal([]);
  });
});
