import { expect } from "chai";
import { grantIdOf, labelToId } from "../../core/ids";
import { hexlify } from "ethers";
import { ZERO_HASH, encodeEntry, entryLeafHash, type AuditEntry } from "../../core/auditEntry";
import { MerkleTree } from "../../core/merkleTree";
import type { ChainBlock, ChainHistory, ChainLogInfo } from "../../auditor/history";
import { verifyLog, type VerifyReport } from "../../auditor/verify";
import type { ChainEvent } from "../../server/store/types";

/**
 * The auditor's rules for release entries, on a chain and a log written out by hand: each forged
 * entry is what a dishonest gateway with write access to its own log could append.
 */
describe("audit verify: a release must show the head it was decided on", function () {
  const subject = "0x" + "5a".repeat(20);
  const service = "0x" + "5e".repeat(20);
  const other = "0x" + "07".repeat(20);
  const purpose = "dpv:ServiceProvision";
  const T0 = 1_800_000_000;
  /** Canonical block n: mined every 12 s. */
  const timeOf = (n: number) => T0 + 12 * n;
  const hashOf = (n: number, fork = "") => "0x" + (fork + n.toString(16)).padStart(64, "0");
  const HEAD = 200;
  const window = 30;
  const logInfo: ChainLogInfo = { logId: "0x" + "11".repeat(32), origin: "test/log", noteKey: "0x" + "22".repeat(32), maxHeadAgeSeconds: window, blockNumber: 1 };

  const grantIdFor = (category: string, grantee = service) => grantIdOf(subject, grantee, labelToId(category), labelToId(purpose)).toLowerCase();
  const event = (kind: ChainEvent["kind"], block: number, fields: Partial<ChainEvent>): ChainEvent => ({
    kind, blockNumber: block, blockHash: hashOf(block), blockTime: timeOf(block), txHash: "0x" + block.toString(16).padStart(64, "f"), logIndex: 0,
    subject, grantee: null, grantId: null, category: null, purpose: null, expiresAt: null, previousExpiresAt: null, ...fields,
  });
  const issued = (category: string, block: number, expiresAt = T0 + 1_000_000) =>
    event("issued", block, { grantee: service, grantId: grantIdFor(category), category: labelToId(category).toLowerCase(), purpose: labelToId(purpose).toLowerCase(), expiresAt });
  // "c.email": granted at block 10 and never ended; "c.phone": granted at 10, revoked at block 50.
  const events = [issued("c.email", 10), issued("c.phone", 10), event("revoked", 50, { grantee: service, grantId: grantIdFor("c.phone") })];

  function history(overrides: Partial<ChainHistory> = {}): ChainHistory {
    return {
      events, anchors: [], headTime: timeOf(HEAD), headBlock: HEAD,
      isAnchorer: async () => false,
      blockAt: async (n: number): Promise<ChainBlock | null> => (n >= 0 && n <= HEAD ? { hash: hashOf(n), timestamp: timeOf(n) } : null),
      log: logInfo,
      ...overrides,
    };
  }

  /** A release as the gateway logs it after deciding on canonical head `head`, `late` seconds after the head's block. */
  function release(category: string, head: number, late = 1, fields: Partial<AuditEntry> = {}, detail: Record<string, unknown> = {}): Partial<AuditEntry> {
    const at = (timeOf(head) + late) * 1000;
    return {
      at, kind: "release", actor: service, subject, grantee: service, category, purpose, grantBlock: 10, grantTx: "0x" + "ab".repeat(32), payloadHash: "0x" + "cd".repeat(32),
      detail: { grantId: grantIdFor(category), grantedAt: timeOf(10), decidedAt: timeOf(head) + late, headBlock: head, headHash: hashOf(head), headTime: timeOf(head), ...detail },
      ...fields,
    };
  }

  /** Chains entries as the gateway's log does. */
  function chain(parts: Partial<AuditEntry>[]): AuditEntry[] {
    const out: AuditEntry[] = [];
    for (const part of parts) {
      const entry: AuditEntry = {
        index: out.length, at: T0 * 1000, kind: "write", requestId: `r${out.length}`, actor: null, subject: null, grantee: null, category: null, purpose: null,
        grantBlock: null, grantTx: null, payloadHash: null, detail: null, prevHash: out.length ? entryLeafHash(out[out.length - 1]) : ZERO_HASH, ...part,
      };
      entry.prevHash = out.length ? entryLeafHash(out[out.length - 1]) : ZERO_HASH;
      out.push(entry);
    }
    return out;
  }

  /** The deletion order the revocation of "c.phone" calls for, logged last: the rules of deletion are not under test here. */
  const phoneOrder: Partial<AuditEntry> = {
    at: timeOf(HEAD) * 1000, kind: "deletion-order", subject, grantee: service, category: "c.phone",
    detail: { orderId: "o-phone", grantId: grantIdFor("c.phone"), grantedAt: timeOf(10), reason: "revoked", endedAt: timeOf(50) },
  };
  const verify = (parts: Partial<AuditEntry>[], overrides: Partial<ChainHistory> = {}) =>
    verifyLog({ entries: chain([...parts, phoneOrder]), checkpoints: [], history: history(overrides), graceSeconds: 0 });
  const rules = (report: VerifyReport) => report.violations.map((v) => `${v.rule}@${v.index}`);

  it("verifies honest releases clean: each on a canonical head, within the window, to its grantee", async function () {
    const report = await verify([release("c.email", 20), release("c.phone", 40, 5), release("c.email", 60, 29)]);
    expect(report.violations).to.deep.equal([]);
    expect(report.findings).to.deep.equal([]);
    expect(report.ok).to.equal(true);
  });

  it("refuses a forged release logged without the head it was decided on", async function () {
    // A time of the forger's choosing inside the revoked grant's window, and no head.
    const forged = release("c.phone", 45, 0);
    forged.detail = { decidedAt: timeOf(45) };
    const report = await verify([release("c.email", 20), forged]);
    expect(report.ok).to.equal(false);
    expect(rules(report)).to.include("release-no-head@1");
  });

  it("refuses a release whose stated head is older than the log's staleness window", async function () {
    // Released 100 s after the revocation (block 50), stating head 45 to hide it; the decision's time is the logging time.
    const at = timeOf(50) + 100;
    const forged = release("c.phone", 45, at - timeOf(45));
    const report = await verify([release("c.email", 20), forged]);
    expect(report.ok).to.equal(false);
    expect(rules(report)).to.deep.equal(["release-stale-head@1"]);
    // Within the window the same head is accepted: the gateway promised to fail closed only past it.
    expect((await verify([release("c.email", 20), release("c.phone", 45, window)])).ok).to.equal(true);
  });

  it("refuses a release that states its head's time rather than the chain's", async function () {
    const forged = release("c.phone", 45, 90, {}, { headTime: timeOf(45) + 80 });
    const report = await verify([forged]);
    expect(report.ok).to.equal(false);
    expect(rules(report)).to.include("release-head-time@0");
  });

  it("refuses every release when no log is registered on-chain to give the staleness window", async function () {
    for (const log of [null, undefined]) {
      const report = await verify([release("c.email", 20)], { log });
      expect(report.ok).to.equal(false);
      expect(rules(report)).to.deep.equal(["release-no-window@0"]);
    }
  });

  it("refuses a release logged for a service other than the grantee", async function () {
    const report = await verify([release("c.email", 20, 1, { actor: other })]);
    expect(report.ok).to.equal(false);
    expect(rules(report)).to.deep.equal(["release-wrong-actor@0"]);
  });

  it("refuses entries whose times go backwards by more than the window", async function () {
    const report = await verify([release("c.email", 20, 5), { at: (timeOf(20) + 4 - window) * 1000 }, release("c.email", 21)]);
    expect(report.ok).to.equal(false);
    expect(rules(report)).to.deep.equal(["entry-time@1"]);
    // Stamped when made, written in batches: an honest log steps back a little.
    expect((await verify([release("c.email", 20, 5), { at: (timeOf(20) + 5) * 1000 - 1 }, release("c.email", 21)])).violations).to.deep.equal([]);
  });

  it("refuses a release decided before its own head, or long before it was logged", async function () {
    const early = release("c.email", 40, 0, {}, { decidedAt: timeOf(40) - 1 });
    const late = release("c.email", 41, 10, {}, { decidedAt: timeOf(41) + 2 });
    const report = await verify([early, late]);
    expect(rules(report)).to.deep.equal(["release-time@0", "release-time@1"]);
  });

  it("refuses a head that goes back with no reorganisation to show for it", async function () {
    const report = await verify([release("c.email", 40), release("c.email", 30, 200)]);
    expect(rules(report)).to.include("release-time@1");
  });

  it("refuses a head not before the anchor that covers the release", async function () {
    const anchors = [{ treeSize: 1, rootHash: "0x", anchoredAt: timeOf(40), blockNumber: 40, txHash: "0x", anchorer: "0x", authorized: true }];
    const entries = chain([release("c.email", 40), phoneOrder]);
    const tree = new MerkleTree();
    tree.appendData(encodeEntry(entries[0]));
    anchors[0].rootHash = hexlify(tree.rootAt(1));
    const report = await verifyLog({ entries, checkpoints: [], history: history({ anchors }), graceSeconds: 0 });
    expect(rules(report)).to.deep.equal(["release-time@0"]);
  });

  it("refuses a deletion order logged before releases it should have covered", async function () {
    // The order for c.phone's revocation written first, then releases under that issuance: the service keeps them.
    const early = { ...phoneOrder, at: (timeOf(15) + 1) * 1000 };
    const entries = chain([early, release("c.phone", 20), release("c.phone", 40)]);
    const report = await verifyLog({ entries, checkpoints: [], history: history(), graceSeconds: 0 });
    expect(report.ok).to.equal(false);
    expect(rules(report)).to.deep.equal(["deletion-order-missing@null"]);
    // The same order after them covers them.
    expect((await verify([release("c.phone", 20), release("c.phone", 40)])).ok).to.equal(true);
  });

  it("refuses a data-expiry receipt logged before releases of the data it claims deleted", async function () {
    // c.email's data expires at block 80's time: the receipt is written first, the data still released after it.
    const emailId = labelToId("c.email").toLowerCase();
    const overrides = { events: [...events, event("dataExpiry", 70, { category: emailId, expiresAt: timeOf(80) })] };
    const receipt = (at: number) => ({ at, kind: "deletion", subject, category: "c.email", detail: { rule: "data-expiry", categoryId: emailId, records: 1, expiresAt: timeOf(80) } });
    const emailOrder = { ...phoneOrder, category: "c.email", detail: { orderId: "o-email", grantId: grantIdFor("c.email"), grantedAt: timeOf(10), reason: "data-expired", endedAt: timeOf(80) } };
    const early = await verify([receipt((timeOf(15) + 1) * 1000), release("c.email", 20), release("c.email", 40), emailOrder], overrides);
    expect(early.ok).to.equal(false);
    expect(rules(early)).to.deep.equal(["deletion-receipt-missing@null"]);
    // Logged after them, the same receipt stands.
    const honest = await verify([release("c.email", 20), release("c.email", 40), receipt(timeOf(80) * 1000), emailOrder], overrides);
    expect(honest.violations).to.deep.equal([]);
  });

  describe("reorganisations", function () {
    const forkHead = (n: number) => hashOf(n, "f0f0");
    /** A release under "c.fork", a grant issued on a fork at block 58 that the canonical chain does not hold. */
    const onFork = (head: number, late = 1) =>
      release("c.fork", head, late, { grantBlock: 58 }, { headHash: forkHead(head), grantId: grantIdFor("c.fork"), grantedAt: timeOf(58) });
    const order = (category: string, grantedAt: number) => ({
      at: (timeOf(62) + 3) * 1000, kind: "deletion-order", subject, grantee: service, category,
      detail: { orderId: "o1", grantId: grantIdFor(category), grantedAt, reason: "reorged", endedAt: timeOf(62) },
    });

    it("tells a release under a grant a reorganisation removed, with its evidence, from a release without a grant", async function () {
      const report = await verify([onFork(60), order("c.fork", timeOf(58))]);
      expect(report.violations).to.deep.equal([]);
      expect(report.ok).to.equal(true);
      expect(report.findings).to.have.length(1);
      expect(report.findings[0]).to.deep.include({ index: 0, rule: "release-under-reorged-grant", forkHash: forkHead(60), canonicalHash: hashOf(60), deletionOrder: 1 });
      expect(report.findings[0].evidence).to.contain(forkHead(60)).and.contain(hashOf(60)).and.contain("deletion order at entry 1");
      // The same release claimed on a canonical head is a release without a grant.
      const forged = release("c.fork", 60, 1, { grantBlock: 58 });
      expect(rules(await verify([forged]))).to.deep.equal(["release-without-grant@0"]);
    });

    it("refuses a release claimed on a fork when no deletion order followed for its grant", async function () {
      // Otherwise any forged release could claim a made-up head hash.
      const report = await verify([onFork(60)]);
      expect(report.ok).to.equal(false);
      expect(rules(report)).to.deep.equal(["release-reorged-no-order@0"]);
      expect(report.findings.map((f) => f.deletionOrder)).to.deep.equal([null]);
      // An order for another issuance of the grant does not count.
      expect(rules(await verify([onFork(60), order("c.fork", timeOf(57))]))).to.deep.equal(["release-reorged-no-order@0"]);
    });

    it("accepts a release on a fork whose grant is valid on the canonical chain at that moment", async function () {
      const report = await verify([release("c.email", 60, 1, {}, { headHash: forkHead(60) })]);
      expect(report.violations).to.deep.equal([]);
      expect(report.findings).to.deep.equal([]);
    });

    it("lets the head go back only across a reorganisation it can see", async function () {
      // Head 62 on a fork, then the canonical head 61 once the fork was dropped: an honest sequence.
      const forkRelease = release("c.email", 62, 1, {}, { headHash: forkHead(62) });
      const report = await verify([forkRelease, release("c.email", 61, 14)]);
      expect(report.violations).to.deep.equal([]);
      // The same step back from a canonical head is refused.
      expect(rules(await verify([release("c.email", 62), release("c.email", 61, 14)]))).to.deep.equal(["release-time@1"]);
    });
  });
});
