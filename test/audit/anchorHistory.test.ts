import hre from "hardhat";
import { expect } from "chai";
import { hexlify } from "ethers";
import { AuditAnchor__factory } from "../../typechain-types";
import { logIdOf, logOriginOf } from "../../core/logOrigin";
import { readChainHistory, type ChainHistory } from "../../auditor/history";
import { verifyLog } from "../../auditor/verify";
import { deployLedger } from "../../scripts/lib/deploy";

const NOTE_KEY = hexlify(Buffer.alloc(32, 0x42));

describe("the auditor's view of AuditAnchor: this log's anchors, each with its sender and the role it held then", function () {
  it("keeps only the deployment's log's anchors, with its registered note key and window, and answers the anchorer role at a block", async function () {
    const [admin, a, b] = await hre.ethers.getSigners();
    const deployment = await deployLedger(hre, { noteKey: NOTE_KEY, maxHeadAgeSeconds: 20, anchorers: [a.address, b.address] });
    const anchor = AuditAnchor__factory.connect(deployment.contracts.AuditAnchor.address, admin);
    const origin = logOriginOf(deployment);
    const logId = logIdOf(origin);
    // Another log on the same contract: its anchors are not this log's.
    await (await anchor.registerLog(`${origin}/other`, NOTE_KEY, 60)).wait();
    await (await anchor.connect(b).anchor(logIdOf(`${origin}/other`), 9, hre.ethers.id("other"))).wait();

    const first = (await (await anchor.connect(a).anchor(logId, 2, hre.ethers.id("r2"))).wait())!;
    const revoked = (await (await anchor.revokeRole(await anchor.ANCHORER_ROLE(), a.address)).wait())!;
    const second = (await (await anchor.connect(b).anchor(logId, 3, hre.ethers.id("r3"))).wait())!;

    const history = await readChainHistory(hre.ethers.provider, deployment);
    expect(history.log).to.deep.include({ logId, origin, noteKey: NOTE_KEY, maxHeadAgeSeconds: 20 });
    expect(history.anchors.map((x) => ({ treeSize: x.treeSize, rootHash: x.rootHash, anchorer: x.anchorer, authorized: x.authorized, blockNumber: x.blockNumber }))).to.deep.equal([
      { treeSize: 2, rootHash: hre.ethers.id("r2"), anchorer: a.address.toLowerCase(), authorized: true, blockNumber: first.blockNumber },
      { treeSize: 3, rootHash: hre.ethers.id("r3"), anchorer: b.address.toLowerCase(), authorized: true, blockNumber: second.blockNumber },
    ]);
    // The role as it was, not as it is now.
    expect(await history.isAnchorer(a.address, first.blockNumber)).to.equal(true);
    expect(await history.isAnchorer(a.address, revoked.blockNumber)).to.equal(false);
    expect(await history.isAnchorer(a.address)).to.equal(false);
    expect(await history.isAnchorer(b.address)).to.equal(true);
    expect(await history.isAnchorer(admin.address)).to.equal(false);
    expect(await history.isAnchorer(b.address, deployment.contracts.AuditAnchor.blockNumber)).to.equal(false);
  });

  it("has no log when none is registered under the deployment's origin", async function () {
    const deployment = await deployLedger(hre);
    const history = await readChainHistory(hre.ethers.provider, deployment);
    expect(history.log).to.equal(null);
    expect(history.anchors).to.deep.equal([]);
  });

  it("takes an anchor by a sender without the role then as no evidence: flagged, and its root is not compared", async function () {
    const history: ChainHistory = {
      events: [],
      log: null,
      anchors: [{ treeSize: 5, rootHash: hre.ethers.id("forged"), anchoredAt: 1, blockNumber: 7, txHash: hre.ethers.id("tx"), anchorer: "0x00000000000000000000000000000000000000aa", authorized: false }],
      headTime: 10,
      headBlock: 8,
      isAnchorer: async () => false,
      blockAt: async () => null,
    };
    const report = await verifyLog({ entries: [], checkpoints: [], history });
    expect(report.violations.map((v) => v.rule)).to.deep.equal(["anchor-unauthorized"]);
    expect(report.violations[0].evidence).to.contain("0x00000000000000000000000000000000000000aa");
  });
});
