import { expect } from "chai";
import { hexlify, randomBytes } from "ethers";
import { ZERO_HASH, entryLeafHash, type AuditEntry } from "../../core/auditEntry";
import { grantIdOf } from "../../core/ids";
import type { ChainEvent } from "../../server/store/types";
import type { ChainHistory } from "../../auditor/history";
import { verifyLog } from "../../auditor/verify";

/**
 * Section 4 of `verify`: every end of every grant issuance has a deletion order, and every data
 * expiry the chain ever set that fell due has a receipt, not only the latest of each.
 */
describe("audit: a deletion order for every end of every issuance, a receipt for every data expiry", function () {
  const word = () => hexlify(randomBytes(32)).toLowerCase();
  const subject = hexlify(randomBytes(20)).toLowerCase();
  const grantee = hexlify(randomBytes(20)).toLowerCase();
  const category = word();
  const purpose = word();
  const grantId = grantIdOf(subject, grantee, category, purpose).toLowerCase();
  let block = 0;

  const event = (blockTime: number, fields: Partial<ChainEvent>): ChainEvent => ({
    blockNumber: ++block, blockHash: word(), blockTime, txHash: word(), logIndex: 0, subject, grantee: null, grantId: null, category: null, purpose: null,
    expiresAt: null, previousExpiresAt: null, kind: "issued", ...fields,
  });
  const issued = (at: number, expiresAt: number) => event(at, { kind: "issued", grantee, grantId, category, purpose, expiresAt });
  const dataExpiry = (at: number, expiresAt: number, previousExpiresAt: number) => event(at, { kind: "dataExpiry", category, expiresAt, previousExpiresAt });
  const revoked = (at: number) => event(at, { kind: "revoked", grantee, grantId });

  /** Entries chained as the gateway chains them. */
  function logOf(fields: Partial<AuditEntry>[]): AuditEntry[] {
    let prevHash = ZERO_HASH;
    return fields.map((f, index) => {
      const entry: AuditEntry = {
        index, at: 0, kind: "deletion-order", requestId: `r${index}`, actor: null, subject, grantee, category, purpose,
        grantBlock: null, grantTx: null, payloadHash: null, detail: null, prevHash, ...f,
      };
      prevHash = entryLeafHash(entry);
      return entry;
    });
  }
  const order = (grantedAt: number, endedAt: number, reason: string): Partial<AuditEntry> => ({
    at: endedAt * 1000, detail: { orderId: word(), grantId, grantedAt, reason, endedAt },
  });
  const receipt = (expiresAt: number): Partial<AuditEntry> => ({
    kind: "deletion", at: expiresAt * 1000, grantee: null, purpose: null, detail: { rule: "data-expiry", categoryId: category, records: 1, expiresAt },
  });
  // No checkpoints, anchors or releases here: the parts of the history only those read are stubs.
  const history = (events: ChainEvent[], headTime: number): ChainHistory => ({
    events, anchors: [], headTime, headBlock: block, isAnchorer: async () => false, blockAt: async () => null,
  }) as unknown as ChainHistory;
  const rules = async (events: ChainEvent[], log: Partial<AuditEntry>[], headTime: number) =>
    (await verifyLog({ entries: logOf(log), checkpoints: [], history: history(events, headTime), graceSeconds: 0 })).violations.map((v) => `${v.rule}: ${v.evidence}`);

  it("refuses a log that ordered deletion for the latest issuance only", async function () {
    const events = [issued(1000, 2000), issued(2100, 3000)];
    expect(await rules(events, [order(1000, 2000, "expired"), order(2100, 3000, "expired")], 4000)).to.deep.equal([]);
    const missing = await rules(events, [order(2100, 3000, "expired")], 4000);
    expect(missing).to.have.length(1);
    expect(missing[0]).to.match(/^deletion-order-missing: .*ended at 2000/);
  });

  it("refuses a log with one order for a grant that a cleared data expiry revived and that ended again", async function () {
    // Data expiry at 1500 ends the grant; cleared at 1600 the grant lives again until its revocation at 1700.
    const events = [issued(1000, 5000), dataExpiry(1100, 1500, 0), dataExpiry(1600, 0, 1500), revoked(1700)];
    const complete = [receipt(1500), order(1000, 1500, "data-expired"), order(1000, 1700, "revoked")];
    expect(await rules(events, complete, 6000)).to.deep.equal([]);
    const missing = await rules(events, [receipt(1500), order(1000, 1500, "data-expired")], 6000);
    expect(missing).to.have.length(1);
    expect(missing[0]).to.match(/^deletion-order-missing: .*ended at 1700/);
  });

  it("refuses a log without a receipt for a data expiry that fell due and was cleared later", async function () {
    const events = [issued(1000, 5000), dataExpiry(1100, 1500, 0), dataExpiry(1600, 0, 1500)];
    // Revived at 1600, the grant ends again at its own expiry.
    const missing = await rules(events, [order(1000, 1500, "data-expired"), order(1000, 5000, "expired")], 6000);
    expect(missing).to.have.length(1);
    expect(missing[0]).to.match(/^deletion-receipt-missing: .*expired at 1500/);
  });

  it("asks nothing for a data expiry moved before it fell due, nor for an issuance that never began", async function () {
    // 1500 is replaced at 1400, before it came; the grant issued after 2500 passed was never valid until it ended.
    const events = [dataExpiry(900, 1500, 0), dataExpiry(1400, 2500, 1500), issued(2600, 3000)];
    expect(await rules(events, [receipt(2500), order(2600, 3000, "expired")], 6000)).to.deep.equal([]);
    expect(await rules(events, [receipt(2500)], 6000)).to.deep.equal([]);
  });
});
