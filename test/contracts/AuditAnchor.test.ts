import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { anyUint } from "@nomicfoundation/hardhat-chai-matchers/withArgs";

async function fixture() {
  const [admin, anchorer, other] = await ethers.getSigners();
  const anchor = await ethers.deployContract("AuditAnchor", [admin.address]);
  const ANCHORER_ROLE = await anchor.ANCHORER_ROLE();
  const DEFAULT_ADMIN_ROLE = await anchor.DEFAULT_ADMIN_ROLE();
  await anchor.connect(admin).grantRole(ANCHORER_ROLE, anchorer.address);
  const origin = `data-use-ledger/31337/${(await anchor.getAddress()).toLowerCase()}`;
  await anchor.connect(admin).registerLog(origin, NOTE_KEY, 30);
  const logId = ethers.id(origin);
  return { anchor, admin, anchorer, other, ANCHORER_ROLE, DEFAULT_ADMIN_ROLE, origin, logId };
}

const NOTE_KEY = ethers.hexlify(Buffer.alloc(32, 0xab));
const root = (n: number) => ethers.id(`root-${n}`);

describe("AuditAnchor", function () {
  describe("roles", function () {
    it("gives the constructor's admin DEFAULT_ADMIN_ROLE, and no one the anchorer role by itself", async function () {
      const [admin, other] = await ethers.getSigners();
      const anchor = await ethers.deployContract("AuditAnchor", [admin.address]);
      expect(await anchor.hasRole(await anchor.DEFAULT_ADMIN_ROLE(), admin.address)).to.equal(true);
      expect(await anchor.hasRole(await anchor.DEFAULT_ADMIN_ROLE(), other.address)).to.equal(false);
      expect(await anchor.hasRole(await anchor.ANCHORER_ROLE(), admin.address)).to.equal(false);
    });

    it("the admin may be another account than the deployer", async function () {
      const [deployer, admin] = await ethers.getSigners();
      const anchor = await ethers.deployContract("AuditAnchor", [admin.address], deployer);
      expect(await anchor.hasRole(await anchor.DEFAULT_ADMIN_ROLE(), admin.address)).to.equal(true);
      expect(await anchor.hasRole(await anchor.DEFAULT_ADMIN_ROLE(), deployer.address)).to.equal(false);
    });

    it("ANCHORER_ROLE is keccak256('ANCHORER_ROLE'), administered by DEFAULT_ADMIN_ROLE", async function () {
      const { anchor, ANCHORER_ROLE, DEFAULT_ADMIN_ROLE } = await loadFixture(fixture);
      expect(ANCHORER_ROLE).to.equal(ethers.id("ANCHORER_ROLE"));
      expect(DEFAULT_ADMIN_ROLE).to.equal(ethers.ZeroHash);
      expect(await anchor.getRoleAdmin(ANCHORER_ROLE)).to.equal(DEFAULT_ADMIN_ROLE);
    });

    it("rejects an anchor by an account without the anchorer role", async function () {
      const { anchor, admin, other, ANCHORER_ROLE, logId } = await loadFixture(fixture);
      for (const account of [other, admin]) {
        await expect(anchor.connect(account).anchor(logId, 1, root(1)))
          .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
          .withArgs(account.address, ANCHORER_ROLE);
      }
    });

    it("the admin grants the anchorer role", async function () {
      const { anchor, admin, other, ANCHORER_ROLE, logId } = await loadFixture(fixture);
      await expect(anchor.connect(admin).grantRole(ANCHORER_ROLE, other.address))
        .to.emit(anchor, "RoleGranted")
        .withArgs(ANCHORER_ROLE, other.address, admin.address);
      expect(await anchor.hasRole(ANCHORER_ROLE, other.address)).to.equal(true);
      await expect(anchor.connect(other).anchor(logId, 1, root(1))).to.emit(anchor, "CheckpointAnchored");
    });

    it("the admin revokes the anchorer role, and the former anchorer is rejected", async function () {
      const { anchor, admin, anchorer, ANCHORER_ROLE, logId } = await loadFixture(fixture);
      await anchor.connect(anchorer).anchor(logId, 1, root(1));
      await expect(anchor.connect(admin).revokeRole(ANCHORER_ROLE, anchorer.address))
        .to.emit(anchor, "RoleRevoked")
        .withArgs(ANCHORER_ROLE, anchorer.address, admin.address);
      expect(await anchor.hasRole(ANCHORER_ROLE, anchorer.address)).to.equal(false);
      await expect(anchor.connect(anchorer).anchor(logId, 2, root(2)))
        .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
        .withArgs(anchorer.address, ANCHORER_ROLE);
    });

    it("an anchorer may renounce its role", async function () {
      const { anchor, anchorer, ANCHORER_ROLE, logId } = await loadFixture(fixture);
      await anchor.connect(anchorer).renounceRole(ANCHORER_ROLE, anchorer.address);
      await expect(anchor.connect(anchorer).anchor(logId, 1, root(1)))
        .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
        .withArgs(anchorer.address, ANCHORER_ROLE);
    });

    it("only the admin grants or revokes roles", async function () {
      const { anchor, anchorer, other, ANCHORER_ROLE, DEFAULT_ADMIN_ROLE } = await loadFixture(fixture);
      await expect(anchor.connect(anchorer).grantRole(ANCHORER_ROLE, other.address))
        .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
        .withArgs(anchorer.address, DEFAULT_ADMIN_ROLE);
      await expect(anchor.connect(other).revokeRole(ANCHORER_ROLE, anchorer.address))
        .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
        .withArgs(other.address, DEFAULT_ADMIN_ROLE);
    });
  });

  describe("registerLog", function () {
    it("registers a log under keccak256(origin) with its note key and window, and says so in an event", async function () {
      const [admin] = await ethers.getSigners();
      const anchor = await ethers.deployContract("AuditAnchor", [admin.address]);
      const origin = "data-use-ledger/31337/0xabc";
      const logId = ethers.id(origin);
      expect(await anchor.registerLog.staticCall(origin, NOTE_KEY, 45)).to.equal(logId);
      const tx = anchor.registerLog(origin, NOTE_KEY, 45);
      await expect(tx).to.emit(anchor, "LogRegistered").withArgs(logId, origin, NOTE_KEY, 45);
      const receipt = (await (await tx).wait())!;
      const info = await anchor.logInfo(logId);
      expect([info.noteKey, info.maxHeadAgeSeconds, info.registeredBlock]).to.deep.equal([NOTE_KEY, 45n, BigInt(receipt.blockNumber)]);
    });

    it("logInfo() is all zero for a log never registered", async function () {
      const { anchor } = await loadFixture(fixture);
      const info = await anchor.logInfo(ethers.id("data-use-ledger/1/0xnot-registered"));
      expect([info.noteKey, info.maxHeadAgeSeconds, info.registeredBlock]).to.deep.equal([ethers.ZeroHash, 0n, 0n]);
    });

    it("registers a log once: a second registration cannot swap its note key or widen its window", async function () {
      const { anchor, admin, origin, logId } = await loadFixture(fixture);
      for (const [key, window] of [[NOTE_KEY, 30], [ethers.hexlify(Buffer.alloc(32, 1)), 30], [NOTE_KEY, 3600]] as const) {
        await expect(anchor.connect(admin).registerLog(origin, key, window))
          .to.be.revertedWithCustomError(anchor, "AuditAnchorLogExists")
          .withArgs(logId);
      }
      const info = await anchor.logInfo(logId);
      expect([info.noteKey, info.maxHeadAgeSeconds]).to.deep.equal([NOTE_KEY, 30n]);
    });

    it("only the admin registers a log: an anchorer cannot register a log of its own to anchor", async function () {
      const { anchor, anchorer, other, DEFAULT_ADMIN_ROLE } = await loadFixture(fixture);
      for (const account of [anchorer, other]) {
        await expect(anchor.connect(account).registerLog("data-use-ledger/31337/0xmine", NOTE_KEY, 30))
          .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
          .withArgs(account.address, DEFAULT_ADMIN_ROLE);
      }
    });

    it("refuses a log without a note key or with a zero staleness window", async function () {
      const { anchor, admin } = await loadFixture(fixture);
      await expect(anchor.connect(admin).registerLog("o/1", ethers.ZeroHash, 30))
        .to.be.revertedWithCustomError(anchor, "AuditAnchorInvalidLog")
        .withArgs(ethers.ZeroHash, 30);
      await expect(anchor.connect(admin).registerLog("o/2", NOTE_KEY, 0))
        .to.be.revertedWithCustomError(anchor, "AuditAnchorInvalidLog")
        .withArgs(NOTE_KEY, 0);
    });
  });

  describe("anchor", function () {
    it("emits CheckpointAnchored with its log, sender and the block's timestamp, and records the sender's latest checkpoint", async function () {
      const { anchor, anchorer, logId } = await loadFixture(fixture);
      const at = (await time.latest()) + 10;
      await time.setNextBlockTimestamp(at);
      const tx = anchor.connect(anchorer).anchor(logId, 7, root(7));
      await expect(tx).to.emit(anchor, "CheckpointAnchored").withArgs(logId, anchorer.address, 7, root(7), at);
      const receipt = (await (await tx).wait())!;
      const latest = await anchor.latestCheckpoint(logId, anchorer.address);
      expect([latest.treeSize, latest.anchoredAt, latest.blockNumber]).to.deep.equal([7n, BigInt(at), BigInt(receipt.blockNumber)]);
    });

    it("latestCheckpoint() is all zero before a sender's first anchor", async function () {
      const { anchor, anchorer, other, logId } = await loadFixture(fixture);
      await anchor.connect(anchorer).anchor(logId, 3, root(3));
      for (const [id, who] of [[logId, other.address], [ethers.id("other log"), anchorer.address]] as const) {
        const latest = await anchor.latestCheckpoint(id, who);
        expect([latest.treeSize, latest.anchoredAt, latest.blockNumber]).to.deep.equal([0n, 0n, 0n]);
      }
    });

    it("refuses an anchor for a log never registered: an anchorer cannot invent a log", async function () {
      const { anchor, anchorer, logId } = await loadFixture(fixture);
      const unknown = ethers.id("data-use-ledger/31337/0xsomewhere-else");
      await expect(anchor.connect(anchorer).anchor(unknown, 1, root(1)))
        .to.be.revertedWithCustomError(anchor, "AuditAnchorUnknownLog")
        .withArgs(unknown);
      // Not even after anchoring a registered log: the check is per (log, sender) stream.
      await anchor.connect(anchorer).anchor(logId, 5, root(5));
      await expect(anchor.connect(anchorer).anchor(unknown, 6, root(6)))
        .to.be.revertedWithCustomError(anchor, "AuditAnchorUnknownLog")
        .withArgs(unknown);
    });

    it("rejects a tree size of 0 first", async function () {
      const { anchor, anchorer, logId } = await loadFixture(fixture);
      await expect(anchor.connect(anchorer).anchor(logId, 0, root(0)))
        .to.be.revertedWithCustomError(anchor, "AuditAnchorTreeSizeNotIncreasing")
        .withArgs(0, 0);
    });

    it("requires the tree size to grow strictly within a sender's stream", async function () {
      const { anchor, anchorer, logId } = await loadFixture(fixture);
      await anchor.connect(anchorer).anchor(logId, 10, root(10));
      for (const size of [10, 9, 0]) {
        await expect(anchor.connect(anchorer).anchor(logId, size, root(size)))
          .to.be.revertedWithCustomError(anchor, "AuditAnchorTreeSizeNotIncreasing")
          .withArgs(10, size);
      }
      const at = (await time.latest()) + 1;
      await time.setNextBlockTimestamp(at);
      await expect(anchor.connect(anchorer).anchor(logId, 11, root(11)))
        .to.emit(anchor, "CheckpointAnchored")
        .withArgs(logId, anchorer.address, 11, root(11), at);
      expect((await anchor.latestCheckpoint(logId, anchorer.address)).treeSize).to.equal(11);
    });

    it("an anchorer that anchors 2^64-1 bricks only its own stream; after its role is revoked another anchorer anchors the log and the old anchors remain", async function () {
      const { anchor, admin, anchorer, other, logId, ANCHORER_ROLE } = await loadFixture(fixture);
      await anchor.connect(admin).grantRole(ANCHORER_ROLE, other.address);
      await anchor.connect(other).anchor(logId, 5, root(5));
      const max = 2n ** 64n - 1n;
      await anchor.connect(anchorer).anchor(logId, max, root(1));
      await expect(anchor.connect(anchorer).anchor(logId, max, root(2)))
        .to.be.revertedWithCustomError(anchor, "AuditAnchorTreeSizeNotIncreasing")
        .withArgs(max, max);
      await anchor.connect(admin).revokeRole(ANCHORER_ROLE, anchorer.address);
      await expect(anchor.connect(other).anchor(logId, 6, root(6))).to.emit(anchor, "CheckpointAnchored").withArgs(logId, other.address, 6, root(6), anyUint);
      const events = await anchor.queryFilter(anchor.filters.CheckpointAnchored(logId));
      expect(events.map((e) => [e.args.anchorer, e.args.treeSize, e.args.rootHash])).to.deep.equal([
        [other.address, 5n, root(5)],
        [anchorer.address, max, root(1)],
        [other.address, 6n, root(6)],
      ]);
      expect((await anchor.latestCheckpoint(logId, anchorer.address)).treeSize).to.equal(max);
    });

    it("binds an anchor to its sender: one anchorer's size neither raises nor lowers another's stream", async function () {
      const { anchor, admin, anchorer, other, logId, ANCHORER_ROLE } = await loadFixture(fixture);
      await anchor.connect(admin).grantRole(ANCHORER_ROLE, other.address);
      await anchor.connect(anchorer).anchor(logId, 10, root(10));
      await expect(anchor.connect(other).anchor(logId, 3, root(3))).to.emit(anchor, "CheckpointAnchored").withArgs(logId, other.address, 3, root(3), anyUint);
      await expect(anchor.connect(anchorer).anchor(logId, 4, root(4)))
        .to.be.revertedWithCustomError(anchor, "AuditAnchorTreeSizeNotIncreasing")
        .withArgs(10, 4);
      expect((await anchor.latestCheckpoint(logId, anchorer.address)).treeSize).to.equal(10);
      expect((await anchor.latestCheckpoint(logId, other.address)).treeSize).to.equal(3);
    });

    it("binds an anchor to its log: a size anchored for one log does not block or count for another", async function () {
      const { anchor, admin, anchorer, logId } = await loadFixture(fixture);
      const second = "data-use-ledger/31337/0xsecond";
      await anchor.connect(admin).registerLog(second, NOTE_KEY, 30);
      const secondId = ethers.id(second);
      await anchor.connect(anchorer).anchor(logId, 100, root(100));
      await expect(anchor.connect(anchorer).anchor(secondId, 2, root(2))).to.emit(anchor, "CheckpointAnchored").withArgs(secondId, anchorer.address, 2, root(2), anyUint);
      const ofFirst = await anchor.queryFilter(anchor.filters.CheckpointAnchored(logId));
      const ofSecond = await anchor.queryFilter(anchor.filters.CheckpointAnchored(secondId));
      expect(ofFirst.map((e) => e.args.treeSize)).to.deep.equal([100n]);
      expect(ofSecond.map((e) => e.args.treeSize)).to.deep.equal([2n]);
    });

    it("keeps every checkpoint recoverable from its events, in order, by log and by sender", async function () {
      const { anchor, anchorer, admin, logId, ANCHORER_ROLE } = await loadFixture(fixture);
      await anchor.connect(admin).grantRole(ANCHORER_ROLE, admin.address);
      const sizes = [1, 2, 5, 8, 100];
      const expected = [];
      for (const [i, size] of sizes.entries()) {
        const at = (await time.latest()) + 1 + i;
        await time.setNextBlockTimestamp(at);
        // Anchorers may take turns, each in its own stream.
        const sender = i % 2 ? admin : anchorer;
        const receipt = (await (await anchor.connect(sender).anchor(logId, size, root(size))).wait())!;
        expected.push({ anchorer: sender.address, treeSize: BigInt(size), rootHash: root(size), anchoredAt: BigInt(at), blockNumber: receipt.blockNumber });
      }
      const events = await anchor.queryFilter(anchor.filters.CheckpointAnchored(logId));
      expect(
        events.map((e) => ({ anchorer: e.args.anchorer, treeSize: e.args.treeSize, rootHash: e.args.rootHash, anchoredAt: e.args.anchoredAt, blockNumber: e.blockNumber })),
      ).to.deep.equal(expected);

      // The anchorer is indexed: one sender's stream can be read alone.
      const byAdmin = await anchor.queryFilter(anchor.filters.CheckpointAnchored(logId, admin.address));
      expect(byAdmin.map((e) => e.args.treeSize)).to.deep.equal([2n, 8n]);

      // The latest checkpoint names the block whose logs hold its root.
      const latest = await anchor.latestCheckpoint(logId, anchorer.address);
      const [inBlock] = await anchor.queryFilter(anchor.filters.CheckpointAnchored(logId, anchorer.address), Number(latest.blockNumber), Number(latest.blockNumber));
      expect(inBlock.args.rootHash).to.equal(root(100));
      expect(inBlock.args.anchoredAt).to.equal(latest.anchoredAt);
    });
  });
});
