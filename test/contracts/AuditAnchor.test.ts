import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";

async function fixture() {
  const [admin, anchorer, other] = await ethers.getSigners();
  const anchor = await ethers.deployContract("AuditAnchor", [admin.address]);
  const ANCHORER_ROLE = await anchor.ANCHORER_ROLE();
  const DEFAULT_ADMIN_ROLE = await anchor.DEFAULT_ADMIN_ROLE();
  await anchor.connect(admin).grantRole(ANCHORER_ROLE, anchorer.address);
  return { anchor, admin, anchorer, other, ANCHORER_ROLE, DEFAULT_ADMIN_ROLE };
}

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
      const { anchor, admin, other, ANCHORER_ROLE } = await loadFixture(fixture);
      for (const account of [other, admin]) {
        await expect(anchor.connect(account).anchor(1, root(1)))
          .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
          .withArgs(account.address, ANCHORER_ROLE);
      }
    });

    it("the admin grants the anchorer role", async function () {
      const { anchor, admin, other, ANCHORER_ROLE } = await loadFixture(fixture);
      await expect(anchor.connect(admin).grantRole(ANCHORER_ROLE, other.address))
        .to.emit(anchor, "RoleGranted")
        .withArgs(ANCHORER_ROLE, other.address, admin.address);
      expect(await anchor.hasRole(ANCHORER_ROLE, other.address)).to.equal(true);
      await expect(anchor.connect(other).anchor(1, root(1))).to.emit(anchor, "CheckpointAnchored");
    });

    it("the admin revokes the anchorer role, and the former anchorer is rejected", async function () {
      const { anchor, admin, anchorer, ANCHORER_ROLE } = await loadFixture(fixture);
      await anchor.connect(anchorer).anchor(1, root(1));
      await expect(anchor.connect(admin).revokeRole(ANCHORER_ROLE, anchorer.address))
        .to.emit(anchor, "RoleRevoked")
        .withArgs(ANCHORER_ROLE, anchorer.address, admin.address);
      expect(await anchor.hasRole(ANCHORER_ROLE, anchorer.address)).to.equal(false);
      await expect(anchor.connect(anchorer).anchor(2, root(2)))
        .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
        .withArgs(anchorer.address, ANCHORER_ROLE);
    });

    it("an anchorer may renounce its role", async function () {
      const { anchor, anchorer, ANCHORER_ROLE } = await loadFixture(fixture);
      await anchor.connect(anchorer).renounceRole(ANCHORER_ROLE, anchorer.address);
      await expect(anchor.connect(anchorer).anchor(1, root(1)))
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

  describe("anchor", function () {
    it("emits CheckpointAnchored with the block's timestamp and records the latest checkpoint", async function () {
      const { anchor, anchorer } = await loadFixture(fixture);
      const at = (await time.latest()) + 10;
      await time.setNextBlockTimestamp(at);
      const tx = anchor.connect(anchorer).anchor(7, root(7));
      await expect(tx).to.emit(anchor, "CheckpointAnchored").withArgs(7, root(7), at);
      const receipt = (await (await tx).wait())!;
      const latest = await anchor.latestCheckpoint();
      expect([latest.treeSize, latest.anchoredAt, latest.blockNumber]).to.deep.equal([
        7n,
        BigInt(at),
        BigInt(receipt.blockNumber),
      ]);
    });

    it("latestCheckpoint() is all zero before the first anchor", async function () {
      const { anchor } = await loadFixture(fixture);
      const latest = await anchor.latestCheckpoint();
      expect([latest.treeSize, latest.anchoredAt, latest.blockNumber]).to.deep.equal([0n, 0n, 0n]);
    });

    it("rejects a tree size of 0 first", async function () {
      const { anchor, anchorer } = await loadFixture(fixture);
      await expect(anchor.connect(anchorer).anchor(0, root(0)))
        .to.be.revertedWithCustomError(anchor, "AuditAnchorTreeSizeNotIncreasing")
        .withArgs(0, 0);
    });

    it("requires the tree size to grow strictly", async function () {
      const { anchor, anchorer } = await loadFixture(fixture);
      await anchor.connect(anchorer).anchor(10, root(10));
      for (const size of [10, 9, 0]) {
        await expect(anchor.connect(anchorer).anchor(size, root(size)))
          .to.be.revertedWithCustomError(anchor, "AuditAnchorTreeSizeNotIncreasing")
          .withArgs(10, size);
      }
      const at = (await time.latest()) + 1;
      await time.setNextBlockTimestamp(at);
      await expect(anchor.connect(anchorer).anchor(11, root(11)))
        .to.emit(anchor, "CheckpointAnchored")
        .withArgs(11, root(11), at);
      expect((await anchor.latestCheckpoint()).treeSize).to.equal(11);
    });

    it("accepts the largest tree size, and nothing after it", async function () {
      const { anchor, anchorer } = await loadFixture(fixture);
      const max = 2n ** 64n - 1n;
      await anchor.connect(anchorer).anchor(max, root(1));
      expect((await anchor.latestCheckpoint()).treeSize).to.equal(max);
      await expect(anchor.connect(anchorer).anchor(max, root(2)))
        .to.be.revertedWithCustomError(anchor, "AuditAnchorTreeSizeNotIncreasing")
        .withArgs(max, max);
    });

    it("keeps every checkpoint recoverable from its events, in order", async function () {
      const { anchor, anchorer, admin, ANCHORER_ROLE } = await loadFixture(fixture);
      await anchor.connect(admin).grantRole(ANCHORER_ROLE, admin.address);
      const sizes = [1, 2, 5, 8, 100];
      const expected = [];
      for (const [i, size] of sizes.entries()) {
        const at = (await time.latest()) + 1 + i;
        await time.setNextBlockTimestamp(at);
        // Anchorers may take turns.
        const receipt = (await (await anchor.connect(i % 2 ? admin : anchorer).anchor(size, root(size))).wait())!;
        expected.push({ treeSize: BigInt(size), rootHash: root(size), anchoredAt: BigInt(at), blockNumber: receipt.blockNumber });
      }
      const events = await anchor.queryFilter(anchor.filters.CheckpointAnchored());
      expect(
        events.map((e) => ({
          treeSize: e.args.treeSize,
          rootHash: e.args.rootHash,
          anchoredAt: e.args.anchoredAt,
          blockNumber: e.blockNumber,
        })),
      ).to.deep.equal(expected);

      // treeSize is indexed: one checkpoint can be looked up by its size.
      const [five] = await anchor.queryFilter(anchor.filters.CheckpointAnchored(5));
      expect(five.args.rootHash).to.equal(root(5));

      // The latest checkpoint names the block whose logs hold its root.
      const latest = await anchor.latestCheckpoint();
      const [inBlock] = await anchor.queryFilter(
        anchor.filters.CheckpointAnchored(latest.treeSize),
        Number(latest.blockNumber),
        Number(latest.blockNumber),
      );
      expect(inBlock.args.rootHash).to.equal(root(100));
      expect(inBlock.args.anchoredAt).to.equal(latest.anchoredAt);
    });
  });
});
