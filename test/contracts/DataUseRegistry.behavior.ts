import { expect } from "chai";
import { ethers, network } from "hardhat";
import { loadFixture, mine, time } from "@nomicfoundation/hardhat-network-helpers";
import { grantIdOf } from "../../core/ids";
import {
  DAY,
  DenyReason,
  EMAIL,
  MARKETING,
  PHONE,
  SERVICE,
  executionGas,
  expectCheck,
  expectNoEvents,
  nextSecond,
  registryFixture,
  type RegistryActions,
  type RegistryFixture,
} from "./DataUseRegistry.helpers";

/** Runs `send` with automine off, so that every transaction it sends lands in one block. */
async function inOneBlock<T>(send: () => Promise<T>): Promise<T> {
  await network.provider.send("evm_setAutomine", [false]);
  try {
    const result = await send();
    await mine();
    return result;
  } finally {
    await network.provider.send("evm_setAutomine", [true]);
  }
}

/**
 * Every action of a subject on its grants, performed through `actions`: run once with direct calls
 * and once with the EIP-712 relayed `...BySig` functions, so both paths meet the same specification.
 */
export function shouldBehaveLikeDataUseRegistry(actions: RegistryActions): void {
  let f: RegistryFixture;
  let subjectAddress: string;
  let granteeAddress: string;

  beforeEach(async function () {
    f = await loadFixture(registryFixture);
    subjectAddress = f.subject.address;
    granteeAddress = f.grantee.address;
  });

  /** Issues EMAIL/MARKETING from subject to grantee at the next second; returns its times and id. */
  async function issue(lifetime = 30 * DAY, category = EMAIL, purpose = MARKETING, grantee = granteeAddress) {
    const grantedAt = await nextSecond();
    const expiresAt = grantedAt + lifetime;
    await actions.grant(f.registry, f.subject, grantee, category, purpose, expiresAt);
    return { grantedAt, expiresAt, grantId: grantIdOf(subjectAddress, grantee, category, purpose) };
  }

  describe("grant", function () {
    it("issues a grant: GrantIssued, the stored record, and check() valid until expiresAt", async function () {
      const grantedAt = await nextSecond();
      const expiresAt = grantedAt + 30 * DAY;
      await expect(actions.grant(f.registry, f.subject, granteeAddress, EMAIL, MARKETING, expiresAt))
        .to.emit(f.registry, "GrantIssued")
        .withArgs(subjectAddress, granteeAddress, EMAIL, MARKETING, expiresAt);

      const grantId = grantIdOf(subjectAddress, granteeAddress, EMAIL, MARKETING);
      const record = await f.registry.getGrant(subjectAddress, grantId);
      expect([record.grantee, record.grantedAt, record.expiresAt]).to.deep.equal([
        granteeAddress,
        BigInt(grantedAt),
        BigInt(expiresAt),
      ]);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: true,
        expiresAt,
        reason: DenyReason.None,
      });
    });

    it("answers NoGrant before any grant, and for another category, purpose, grantee or subject", async function () {
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: false,
        expiresAt: 0,
        reason: DenyReason.NoGrant,
      });
      await issue();
      const noGrant = { valid: false, expiresAt: 0, reason: DenyReason.NoGrant };
      await expectCheck(f.registry, subjectAddress, granteeAddress, PHONE, MARKETING, noGrant);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, SERVICE, noGrant);
      await expectCheck(f.registry, subjectAddress, f.otherGrantee.address, EMAIL, MARKETING, noGrant);
      await expectCheck(f.registry, f.other.address, granteeAddress, EMAIL, MARKETING, noGrant);
    });

    it("is valid in the half-open window [grantedAt, expiresAt)", async function () {
      const { expiresAt } = await issue(100);
      await time.increaseTo(expiresAt - 1);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: true,
        expiresAt,
        reason: DenyReason.None,
      });
      await time.increaseTo(expiresAt);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: false,
        expiresAt,
        reason: DenyReason.Expired,
      });
    });

    it("rejects an expiry equal to now", async function () {
      const now = await nextSecond();
      await expect(actions.grant(f.registry, f.subject, granteeAddress, EMAIL, MARKETING, now))
        .to.be.revertedWithCustomError(f.registry, "DataUseRegistryExpiryNotInFuture")
        .withArgs(now, now);
    });

    it("rejects an expiry in the past", async function () {
      const now = await nextSecond();
      await expect(actions.grant(f.registry, f.subject, granteeAddress, EMAIL, MARKETING, now - 1))
        .to.be.revertedWithCustomError(f.registry, "DataUseRegistryExpiryNotInFuture")
        .withArgs(now - 1, now);
    });

    it("accepts an expiry one second from now", async function () {
      const now = await nextSecond();
      await expect(actions.grant(f.registry, f.subject, granteeAddress, EMAIL, MARKETING, now + 1))
        .to.emit(f.registry, "GrantIssued")
        .withArgs(subjectAddress, granteeAddress, EMAIL, MARKETING, now + 1);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: true,
        expiresAt: now + 1,
        reason: DenyReason.None,
      });
    });

    it("rejects the zero grantee", async function () {
      const expiresAt = (await time.latest()) + DAY;
      await expect(actions.grant(f.registry, f.subject, ethers.ZeroAddress, EMAIL, MARKETING, expiresAt))
        .to.be.revertedWithCustomError(f.registry, "DataUseRegistryInvalidGrantee")
        .withArgs(ethers.ZeroAddress);
    });

    for (const [direction, delta] of [
      ["extends", DAY],
      ["shortens", -DAY],
    ] as const) {
      it(`on an active grant only moves its expiry (${direction})`, async function () {
        const { grantedAt, expiresAt, grantId } = await issue();
        const newExpiresAt = expiresAt + delta;
        const tx = actions.grant(f.registry, f.subject, granteeAddress, EMAIL, MARKETING, newExpiresAt);
        await expect(tx)
          .to.emit(f.registry, "GrantExpiryChanged")
          .withArgs(subjectAddress, granteeAddress, grantId, expiresAt, newExpiresAt);
        await expect(tx).not.to.emit(f.registry, "GrantIssued");

        const record = await f.registry.getGrant(subjectAddress, grantId);
        expect(record.grantedAt).to.equal(grantedAt);
        expect(record.expiresAt).to.equal(newExpiresAt);
        await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
          valid: true,
          expiresAt: newExpiresAt,
          reason: DenyReason.None,
        });
      });
    }

    it("on an active grant with the same expiry emits nothing", async function () {
      const { grantedAt, expiresAt, grantId } = await issue();
      const tx = actions.grant(f.registry, f.subject, granteeAddress, EMAIL, MARKETING, expiresAt);
      await expect(tx).not.to.emit(f.registry, "GrantIssued");
      await expect(tx).not.to.emit(f.registry, "GrantExpiryChanged");
      await expectNoEvents(tx);
      const record = await f.registry.getGrant(subjectAddress, grantId);
      expect([record.grantedAt, record.expiresAt]).to.deep.equal([BigInt(grantedAt), BigInt(expiresAt)]);
    });

    it("after expiry issues the grant anew, from the new time", async function () {
      const { expiresAt, grantId } = await issue(100);
      await time.increaseTo(expiresAt + 50);
      const regrantedAt = await nextSecond();
      const tx = actions.grant(f.registry, f.subject, granteeAddress, EMAIL, MARKETING, regrantedAt + DAY);
      await expect(tx)
        .to.emit(f.registry, "GrantIssued")
        .withArgs(subjectAddress, granteeAddress, EMAIL, MARKETING, regrantedAt + DAY);
      await expect(tx).not.to.emit(f.registry, "GrantExpiryChanged");
      const record = await f.registry.getGrant(subjectAddress, grantId);
      expect([record.grantedAt, record.expiresAt]).to.deep.equal([BigInt(regrantedAt), BigInt(regrantedAt + DAY)]);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: true,
        expiresAt: regrantedAt + DAY,
        reason: DenyReason.None,
      });
    });

    it("exactly at the old expiry issues the grant anew", async function () {
      const { expiresAt, grantId } = await issue(100);
      await time.setNextBlockTimestamp(expiresAt);
      const tx = actions.grant(f.registry, f.subject, granteeAddress, EMAIL, MARKETING, expiresAt + DAY);
      await expect(tx)
        .to.emit(f.registry, "GrantIssued")
        .withArgs(subjectAddress, granteeAddress, EMAIL, MARKETING, expiresAt + DAY);
      await expect(tx).not.to.emit(f.registry, "GrantExpiryChanged");
      expect((await f.registry.getGrant(subjectAddress, grantId)).grantedAt).to.equal(expiresAt);
    });

    it("after revocation issues the grant anew, from the new time", async function () {
      const { grantId } = await issue();
      await actions.revoke(f.registry, f.subject, grantId);
      const regrantedAt = await nextSecond();
      const tx = actions.grant(f.registry, f.subject, granteeAddress, EMAIL, MARKETING, regrantedAt + DAY);
      await expect(tx)
        .to.emit(f.registry, "GrantIssued")
        .withArgs(subjectAddress, granteeAddress, EMAIL, MARKETING, regrantedAt + DAY);
      await expect(tx).not.to.emit(f.registry, "GrantExpiryChanged");
      const record = await f.registry.getGrant(subjectAddress, grantId);
      expect([record.grantee, record.grantedAt, record.expiresAt]).to.deep.equal([
        granteeAddress,
        BigInt(regrantedAt),
        BigInt(regrantedAt + DAY),
      ]);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: true,
        expiresAt: regrantedAt + DAY,
        reason: DenyReason.None,
      });
    });

    it("keeps grants of different categories, purposes and grantees apart", async function () {
      const a = await issue(10 * DAY, EMAIL, MARKETING);
      const b = await issue(20 * DAY, PHONE, MARKETING);
      const c = await issue(30 * DAY, EMAIL, SERVICE);
      const d = await issue(40 * DAY, EMAIL, MARKETING, f.otherGrantee.address);
      expect(new Set([a.grantId, b.grantId, c.grantId, d.grantId]).size).to.equal(4);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: true,
        expiresAt: a.expiresAt,
        reason: DenyReason.None,
      });
      await expectCheck(f.registry, subjectAddress, granteeAddress, PHONE, MARKETING, {
        valid: true,
        expiresAt: b.expiresAt,
        reason: DenyReason.None,
      });
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, SERVICE, {
        valid: true,
        expiresAt: c.expiresAt,
        reason: DenyReason.None,
      });
      await expectCheck(f.registry, subjectAddress, f.otherGrantee.address, EMAIL, MARKETING, {
        valid: true,
        expiresAt: d.expiresAt,
        reason: DenyReason.None,
      });
    });
  });

  describe("changeExpiry", function () {
    it("extends an active grant", async function () {
      const { grantedAt, expiresAt, grantId } = await issue(100);
      const newExpiresAt = expiresAt + 100;
      await expect(actions.changeExpiry(f.registry, f.subject, grantId, newExpiresAt))
        .to.emit(f.registry, "GrantExpiryChanged")
        .withArgs(subjectAddress, granteeAddress, grantId, expiresAt, newExpiresAt);
      const record = await f.registry.getGrant(subjectAddress, grantId);
      expect([record.grantee, record.grantedAt, record.expiresAt]).to.deep.equal([
        granteeAddress,
        BigInt(grantedAt),
        BigInt(newExpiresAt),
      ]);
      await time.increaseTo(expiresAt);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: true,
        expiresAt: newExpiresAt,
        reason: DenyReason.None,
      });
      await time.increaseTo(newExpiresAt);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: false,
        expiresAt: newExpiresAt,
        reason: DenyReason.Expired,
      });
    });

    it("shortens an active grant", async function () {
      const { expiresAt, grantId } = await issue(100);
      const newExpiresAt = expiresAt - 50;
      await expect(actions.changeExpiry(f.registry, f.subject, grantId, newExpiresAt))
        .to.emit(f.registry, "GrantExpiryChanged")
        .withArgs(subjectAddress, granteeAddress, grantId, expiresAt, newExpiresAt);
      await time.increaseTo(newExpiresAt - 1);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: true,
        expiresAt: newExpiresAt,
        reason: DenyReason.None,
      });
      await time.increaseTo(newExpiresAt);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: false,
        expiresAt: newExpiresAt,
        reason: DenyReason.Expired,
      });
    });

    it("with the same expiry emits nothing", async function () {
      const { expiresAt, grantId } = await issue();
      const tx = actions.changeExpiry(f.registry, f.subject, grantId, expiresAt);
      await expect(tx).not.to.emit(f.registry, "GrantExpiryChanged");
      await expectNoEvents(tx);
      expect((await f.registry.getGrant(subjectAddress, grantId)).expiresAt).to.equal(expiresAt);
    });

    it("rejects an expiry equal to now or in the past", async function () {
      const { grantId } = await issue();
      let now = await nextSecond();
      await expect(actions.changeExpiry(f.registry, f.subject, grantId, now))
        .to.be.revertedWithCustomError(f.registry, "DataUseRegistryExpiryNotInFuture")
        .withArgs(now, now);
      now = await nextSecond();
      await expect(actions.changeExpiry(f.registry, f.subject, grantId, now - 10))
        .to.be.revertedWithCustomError(f.registry, "DataUseRegistryExpiryNotInFuture")
        .withArgs(now - 10, now);
    });

    it("rejects a revoked grant", async function () {
      const { expiresAt, grantId } = await issue();
      await actions.revoke(f.registry, f.subject, grantId);
      await expect(actions.changeExpiry(f.registry, f.subject, grantId, expiresAt + DAY))
        .to.be.revertedWithCustomError(f.registry, "DataUseRegistryGrantNotActive")
        .withArgs(subjectAddress, grantId);
    });

    it("rejects a grant that expired, from its expiry second on", async function () {
      const { expiresAt, grantId } = await issue(100);
      await time.setNextBlockTimestamp(expiresAt);
      await expect(actions.changeExpiry(f.registry, f.subject, grantId, expiresAt + DAY))
        .to.be.revertedWithCustomError(f.registry, "DataUseRegistryGrantNotActive")
        .withArgs(subjectAddress, grantId);
    });

    it("accepts a grant one second before its expiry", async function () {
      const { expiresAt, grantId } = await issue(100);
      await time.setNextBlockTimestamp(expiresAt - 1);
      await expect(actions.changeExpiry(f.registry, f.subject, grantId, expiresAt + DAY))
        .to.emit(f.registry, "GrantExpiryChanged")
        .withArgs(subjectAddress, granteeAddress, grantId, expiresAt, expiresAt + DAY);
    });

    it("rejects a grant never issued", async function () {
      const grantId = grantIdOf(subjectAddress, granteeAddress, EMAIL, MARKETING);
      const expiresAt = (await time.latest()) + DAY;
      await expect(actions.changeExpiry(f.registry, f.subject, grantId, expiresAt))
        .to.be.revertedWithCustomError(f.registry, "DataUseRegistryGrantNotActive")
        .withArgs(subjectAddress, grantId);
    });

    it("cannot touch another subject's grant: grants are keyed by their subject", async function () {
      const { expiresAt, grantId } = await issue();
      await expect(actions.changeExpiry(f.registry, f.other, grantId, expiresAt + DAY))
        .to.be.revertedWithCustomError(f.registry, "DataUseRegistryGrantNotActive")
        .withArgs(f.other.address, grantId);
      expect((await f.registry.getGrant(subjectAddress, grantId)).expiresAt).to.equal(expiresAt);
    });

    it("on a grant ended by revokeAll records the expiry but check() stays Revoked", async function () {
      const { expiresAt, grantId } = await issue();
      await nextSecond();
      await actions.revokeAll(f.registry, f.subject, granteeAddress);
      await expect(actions.changeExpiry(f.registry, f.subject, grantId, expiresAt + DAY))
        .to.emit(f.registry, "GrantExpiryChanged")
        .withArgs(subjectAddress, granteeAddress, grantId, expiresAt, expiresAt + DAY);
      expect((await f.registry.getGrant(subjectAddress, grantId)).expiresAt).to.equal(expiresAt + DAY);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: false,
        expiresAt: 0,
        reason: DenyReason.Revoked,
      });
    });
  });

  describe("revoke", function () {
    it("ends an active grant", async function () {
      const { grantedAt, grantId } = await issue();
      await expect(actions.revoke(f.registry, f.subject, grantId))
        .to.emit(f.registry, "GrantRevoked")
        .withArgs(subjectAddress, granteeAddress, grantId);
      const record = await f.registry.getGrant(subjectAddress, grantId);
      expect([record.grantee, record.grantedAt, record.expiresAt]).to.deep.equal([granteeAddress, BigInt(grantedAt), 0n]);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: false,
        expiresAt: 0,
        reason: DenyReason.Revoked,
      });
    });

    it("ends a grant one second before its expiry", async function () {
      const { expiresAt, grantId } = await issue(100);
      await time.setNextBlockTimestamp(expiresAt - 1);
      await expect(actions.revoke(f.registry, f.subject, grantId))
        .to.emit(f.registry, "GrantRevoked")
        .withArgs(subjectAddress, granteeAddress, grantId);
    });

    it("of a revoked grant does nothing", async function () {
      const { grantId } = await issue();
      await actions.revoke(f.registry, f.subject, grantId);
      const tx = actions.revoke(f.registry, f.subject, grantId);
      await expect(tx).not.to.emit(f.registry, "GrantRevoked");
      await expectNoEvents(tx);
    });

    it("of an expired grant does nothing, from its expiry second on", async function () {
      const { expiresAt, grantId } = await issue(100);
      await time.setNextBlockTimestamp(expiresAt);
      const tx = actions.revoke(f.registry, f.subject, grantId);
      await expect(tx).not.to.emit(f.registry, "GrantRevoked");
      await expectNoEvents(tx);
      expect((await f.registry.getGrant(subjectAddress, grantId)).expiresAt).to.equal(expiresAt);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: false,
        expiresAt,
        reason: DenyReason.Expired,
      });
    });

    it("of a grant never issued does nothing", async function () {
      const grantId = grantIdOf(subjectAddress, granteeAddress, EMAIL, MARKETING);
      const tx = actions.revoke(f.registry, f.subject, grantId);
      await expect(tx).not.to.emit(f.registry, "GrantRevoked");
      await expectNoEvents(tx);
      const record = await f.registry.getGrant(subjectAddress, grantId);
      expect([record.grantee, record.grantedAt, record.expiresAt]).to.deep.equal([ethers.ZeroAddress, 0n, 0n]);
    });

    it("by another account does nothing to the subject's grant", async function () {
      const { expiresAt, grantId } = await issue();
      const tx = actions.revoke(f.registry, f.other, grantId);
      await expect(tx).not.to.emit(f.registry, "GrantRevoked");
      await expectNoEvents(tx);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: true,
        expiresAt,
        reason: DenyReason.None,
      });
    });

    it("by the grantee does nothing to the subject's grant", async function () {
      const { expiresAt, grantId } = await issue();
      await expectNoEvents(actions.revoke(f.registry, f.grantee, grantId));
      expect((await f.registry.getGrant(subjectAddress, grantId)).expiresAt).to.equal(expiresAt);
    });

    it("of one grant leaves the subject's other grants valid", async function () {
      const a = await issue(DAY, EMAIL, MARKETING);
      const b = await issue(DAY, PHONE, MARKETING);
      await actions.revoke(f.registry, f.subject, a.grantId);
      await expectCheck(f.registry, subjectAddress, granteeAddress, PHONE, MARKETING, {
        valid: true,
        expiresAt: b.expiresAt,
        reason: DenyReason.None,
      });
    });

    it("of a grant ended by revokeAll marks it revoked once more", async function () {
      const { grantId } = await issue();
      await nextSecond();
      await actions.revokeAll(f.registry, f.subject, granteeAddress);
      await expect(actions.revoke(f.registry, f.subject, grantId))
        .to.emit(f.registry, "GrantRevoked")
        .withArgs(subjectAddress, granteeAddress, grantId);
      expect((await f.registry.getGrant(subjectAddress, grantId)).expiresAt).to.equal(0);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: false,
        expiresAt: 0,
        reason: DenyReason.Revoked,
      });
    });
  });

  describe("revokeAll", function () {
    it("ends every grant to the grantee, and no other", async function () {
      const granted = [];
      for (const category of [EMAIL, PHONE]) {
        for (const purpose of [MARKETING, SERVICE]) {
          granted.push({ category, purpose, ...(await issue(DAY, category, purpose)) });
        }
      }
      const toOther = await issue(DAY, EMAIL, MARKETING, f.otherGrantee.address);
      // Another subject's grant to the same grantee.
      const otherSubjectExpiresAt = (await nextSecond()) + DAY;
      await actions.grant(f.registry, f.other, granteeAddress, EMAIL, MARKETING, otherSubjectExpiresAt);

      const revokedAt = await nextSecond();
      await expect(actions.revokeAll(f.registry, f.subject, granteeAddress))
        .to.emit(f.registry, "AllGrantsRevoked")
        .withArgs(subjectAddress, granteeAddress);
      expect(await f.registry.allRevokedAt(subjectAddress, granteeAddress)).to.equal(revokedAt);
      expect(await f.registry.allRevokedAt(subjectAddress, f.otherGrantee.address)).to.equal(0);

      for (const { category, purpose, grantId, grantedAt, expiresAt } of granted) {
        await expectCheck(f.registry, subjectAddress, granteeAddress, category, purpose, {
          valid: false,
          expiresAt: 0,
          reason: DenyReason.Revoked,
        });
        // The records themselves are untouched: the cutoff ends them.
        const record = await f.registry.getGrant(subjectAddress, grantId);
        expect([record.grantedAt, record.expiresAt]).to.deep.equal([BigInt(grantedAt), BigInt(expiresAt)]);
      }
      await expectCheck(f.registry, subjectAddress, f.otherGrantee.address, EMAIL, MARKETING, {
        valid: true,
        expiresAt: toOther.expiresAt,
        reason: DenyReason.None,
      });
      await expectCheck(f.registry, f.other.address, granteeAddress, EMAIL, MARKETING, {
        valid: true,
        expiresAt: otherSubjectExpiresAt,
        reason: DenyReason.None,
      });
    });

    it("rejects the zero grantee", async function () {
      await expect(actions.revokeAll(f.registry, f.subject, ethers.ZeroAddress))
        .to.be.revertedWithCustomError(f.registry, "DataUseRegistryInvalidGrantee")
        .withArgs(ethers.ZeroAddress);
    });

    it("twice in the same second emits once", async function () {
      await issue();
      const [first, second] = await inOneBlock(async () => [
        await actions.revokeAll(f.registry, f.subject, granteeAddress),
        await actions.revokeAll(f.registry, f.subject, granteeAddress),
      ]);
      const [firstReceipt, secondReceipt] = [(await first.wait())!, (await second.wait())!];
      expect(secondReceipt.blockNumber).to.equal(firstReceipt.blockNumber);
      await expect(first).to.emit(f.registry, "AllGrantsRevoked").withArgs(subjectAddress, granteeAddress);
      await expect(second).not.to.emit(f.registry, "AllGrantsRevoked");
      expect(secondReceipt.logs).to.have.lengthOf(0);
      const block = (await ethers.provider.getBlock(firstReceipt.blockNumber))!;
      expect(await f.registry.allRevokedAt(subjectAddress, granteeAddress)).to.equal(block.timestamp);
    });

    it("again in a later second emits again and moves the cutoff", async function () {
      const first = await nextSecond();
      await actions.revokeAll(f.registry, f.subject, granteeAddress);
      expect(await f.registry.allRevokedAt(subjectAddress, granteeAddress)).to.equal(first);
      const second = await nextSecond();
      await expect(actions.revokeAll(f.registry, f.subject, granteeAddress))
        .to.emit(f.registry, "AllGrantsRevoked")
        .withArgs(subjectAddress, granteeAddress);
      expect(await f.registry.allRevokedAt(subjectAddress, granteeAddress)).to.equal(second);
    });

    it("also ends a grant issued later in the same second (fails closed)", async function () {
      const [, granted] = await inOneBlock(async () => [
        await actions.revokeAll(f.registry, f.subject, granteeAddress),
        await actions.grant(f.registry, f.subject, granteeAddress, EMAIL, MARKETING, (await time.latest()) + DAY),
      ]);
      await expect(granted).to.emit(f.registry, "GrantIssued");
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: false,
        expiresAt: 0,
        reason: DenyReason.Revoked,
      });
    });

    it("leaves grants issued in a later second valid, and re-granting issues anew", async function () {
      const ended = await issue(DAY, EMAIL, MARKETING);
      await nextSecond();
      await actions.revokeAll(f.registry, f.subject, granteeAddress);

      const regrantedAt = await nextSecond();
      const tx = actions.grant(f.registry, f.subject, granteeAddress, EMAIL, MARKETING, regrantedAt + DAY);
      await expect(tx)
        .to.emit(f.registry, "GrantIssued")
        .withArgs(subjectAddress, granteeAddress, EMAIL, MARKETING, regrantedAt + DAY);
      await expect(tx).not.to.emit(f.registry, "GrantExpiryChanged");
      expect((await f.registry.getGrant(subjectAddress, ended.grantId)).grantedAt).to.equal(regrantedAt);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: true,
        expiresAt: regrantedAt + DAY,
        reason: DenyReason.None,
      });

      const fresh = await issue(DAY, PHONE, SERVICE);
      await expectCheck(f.registry, subjectAddress, granteeAddress, PHONE, SERVICE, {
        valid: true,
        expiresAt: fresh.expiresAt,
        reason: DenyReason.None,
      });
    });

    it("costs the same gas whatever the number of grants", async function () {
      // Two subjects in the same state but for how many grants each issued to the grantee.
      const [one, twenty] = [f.subject, f.other];
      const expiresAt = (await time.latest()) + 30 * DAY;
      await f.registry.connect(one).grant(granteeAddress, EMAIL, MARKETING, expiresAt);
      await f.registry.connect(twenty).grantBatch(
        Array.from({ length: 20 }, (_, i) => ({
          grantee: granteeAddress,
          category: ethers.id(`category.${i}`),
          purpose: MARKETING,
          expiresAt,
        })),
      );
      const gasOne = await executionGas(actions.revokeAll(f.registry, one, granteeAddress));
      const gasTwenty = await executionGas(actions.revokeAll(f.registry, twenty, granteeAddress));
      expect(gasTwenty).to.equal(gasOne);
      await expectCheck(f.registry, twenty.address, granteeAddress, ethers.id("category.19"), MARKETING, {
        valid: false,
        expiresAt: 0,
        reason: DenyReason.Revoked,
      });
    });
  });

  describe("setDataExpiry", function () {
    it("sets, changes and clears a category's data expiry", async function () {
      const now = await time.latest();
      await expect(actions.setDataExpiry(f.registry, f.subject, EMAIL, now + DAY))
        .to.emit(f.registry, "DataExpirySet")
        .withArgs(subjectAddress, EMAIL, 0, now + DAY);
      expect(await f.registry.dataExpiryOf(subjectAddress, EMAIL)).to.equal(now + DAY);

      await expect(actions.setDataExpiry(f.registry, f.subject, EMAIL, now + 2 * DAY))
        .to.emit(f.registry, "DataExpirySet")
        .withArgs(subjectAddress, EMAIL, now + DAY, now + 2 * DAY);
      expect(await f.registry.dataExpiryOf(subjectAddress, EMAIL)).to.equal(now + 2 * DAY);

      await expect(actions.setDataExpiry(f.registry, f.subject, EMAIL, 0))
        .to.emit(f.registry, "DataExpirySet")
        .withArgs(subjectAddress, EMAIL, now + 2 * DAY, 0);
      expect(await f.registry.dataExpiryOf(subjectAddress, EMAIL)).to.equal(0);
    });

    it("is per subject and category", async function () {
      const expiresAt = (await time.latest()) + DAY;
      await actions.setDataExpiry(f.registry, f.subject, EMAIL, expiresAt);
      expect(await f.registry.dataExpiryOf(subjectAddress, PHONE)).to.equal(0);
      expect(await f.registry.dataExpiryOf(f.other.address, EMAIL)).to.equal(0);
    });

    it("with the same value emits nothing", async function () {
      const expiresAt = (await time.latest()) + DAY;
      await actions.setDataExpiry(f.registry, f.subject, EMAIL, expiresAt);
      const tx = actions.setDataExpiry(f.registry, f.subject, EMAIL, expiresAt);
      await expect(tx).not.to.emit(f.registry, "DataExpirySet");
      await expectNoEvents(tx);
    });

    it("clearing when none is set emits nothing", async function () {
      const tx = actions.setDataExpiry(f.registry, f.subject, EMAIL, 0);
      await expect(tx).not.to.emit(f.registry, "DataExpirySet");
      await expectNoEvents(tx);
    });

    it("rejects a time equal to now or in the past", async function () {
      let now = await nextSecond();
      await expect(actions.setDataExpiry(f.registry, f.subject, EMAIL, now))
        .to.be.revertedWithCustomError(f.registry, "DataUseRegistryExpiryNotInFuture")
        .withArgs(now, now);
      now = await nextSecond();
      await expect(actions.setDataExpiry(f.registry, f.subject, EMAIL, now - 1))
        .to.be.revertedWithCustomError(f.registry, "DataUseRegistryExpiryNotInFuture")
        .withArgs(now - 1, now);
    });

    it("caps an otherwise valid grant: valid one second before, DataExpired at that second", async function () {
      const { expiresAt } = await issue(30 * DAY);
      const dataExpiresAt = (await time.latest()) + DAY;
      await actions.setDataExpiry(f.registry, f.subject, EMAIL, dataExpiresAt);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: true,
        expiresAt: dataExpiresAt,
        reason: DenyReason.None,
      });
      await time.increaseTo(dataExpiresAt - 1);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: true,
        expiresAt: dataExpiresAt,
        reason: DenyReason.None,
      });
      await time.increaseTo(dataExpiresAt);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: false,
        expiresAt: dataExpiresAt,
        reason: DenyReason.DataExpired,
      });
      // Still DataExpired after the grant's own expiry: the data expiry came first.
      await time.increaseTo(expiresAt);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: false,
        expiresAt: dataExpiresAt,
        reason: DenyReason.DataExpired,
      });
    });

    it("caps every grant on the category, and no other category or subject", async function () {
      await issue(30 * DAY, EMAIL, MARKETING);
      await issue(30 * DAY, EMAIL, SERVICE, f.otherGrantee.address);
      const phone = await issue(30 * DAY, PHONE, MARKETING);
      const otherExpiresAt = (await nextSecond()) + 30 * DAY;
      await actions.grant(f.registry, f.other, granteeAddress, EMAIL, MARKETING, otherExpiresAt);
      const dataExpiresAt = (await time.latest()) + DAY;
      await actions.setDataExpiry(f.registry, f.subject, EMAIL, dataExpiresAt);
      await time.increaseTo(dataExpiresAt);

      const dataExpired = { valid: false, expiresAt: dataExpiresAt, reason: DenyReason.DataExpired };
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, dataExpired);
      await expectCheck(f.registry, subjectAddress, f.otherGrantee.address, EMAIL, SERVICE, dataExpired);
      await expectCheck(f.registry, subjectAddress, granteeAddress, PHONE, MARKETING, {
        valid: true,
        expiresAt: phone.expiresAt,
        reason: DenyReason.None,
      });
      await expectCheck(f.registry, f.other.address, granteeAddress, EMAIL, MARKETING, {
        valid: true,
        expiresAt: otherExpiresAt,
        reason: DenyReason.None,
      });
    });

    it("after the grant's own expiry leaves the reason Expired", async function () {
      const { expiresAt } = await issue(100);
      await actions.setDataExpiry(f.registry, f.subject, EMAIL, expiresAt + 100);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: true,
        expiresAt,
        reason: DenyReason.None,
      });
      await time.increaseTo(expiresAt);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: false,
        expiresAt,
        reason: DenyReason.Expired,
      });
      await time.increaseTo(expiresAt + 100);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: false,
        expiresAt,
        reason: DenyReason.Expired,
      });
    });

    it("at the same second as the grant's own expiry reports Expired", async function () {
      const { expiresAt } = await issue(100);
      await actions.setDataExpiry(f.registry, f.subject, EMAIL, expiresAt);
      await time.increaseTo(expiresAt);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: false,
        expiresAt,
        reason: DenyReason.Expired,
      });
    });

    it("cleared, makes the capped grant valid again", async function () {
      const { expiresAt } = await issue(30 * DAY);
      const dataExpiresAt = (await time.latest()) + DAY;
      await actions.setDataExpiry(f.registry, f.subject, EMAIL, dataExpiresAt);
      await time.increaseTo(dataExpiresAt + 10);
      await expect(actions.setDataExpiry(f.registry, f.subject, EMAIL, 0))
        .to.emit(f.registry, "DataExpirySet")
        .withArgs(subjectAddress, EMAIL, dataExpiresAt, 0);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: true,
        expiresAt,
        reason: DenyReason.None,
      });
    });

    it("does not override a revocation", async function () {
      const { grantId } = await issue(30 * DAY);
      await actions.setDataExpiry(f.registry, f.subject, EMAIL, (await time.latest()) + DAY);
      await actions.revoke(f.registry, f.subject, grantId);
      await expectCheck(f.registry, subjectAddress, granteeAddress, EMAIL, MARKETING, {
        valid: false,
        expiresAt: 0,
        reason: DenyReason.Revoked,
      });
    });

    it("can be set by a subject with no grant at all", async function () {
      const expiresAt = (await time.latest()) + DAY;
      await expect(actions.setDataExpiry(f.registry, f.other, PHONE, expiresAt))
        .to.emit(f.registry, "DataExpirySet")
        .withArgs(f.other.address, PHONE, 0, expiresAt);
      await expectCheck(f.registry, f.other.address, granteeAddress, PHONE, MARKETING, {
        valid: false,
        expiresAt: 0,
        reason: DenyReason.NoGrant,
      });
    });
  });
}
