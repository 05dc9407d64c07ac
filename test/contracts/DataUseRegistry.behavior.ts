import { expect } from "chai";
import { ethers, network } from "hardhat";
import { loadFixture, mine, time } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionResponse } from "ethers";
import { grantIdOf, labelToId } from "../../core/ids";
import {
  DAY,
  DenyReason,
  EMAIL,
  MARKETING,
  NO_RECORD,
  PHONE,
  SERVICE,
  denied,
  executionGas,
  expectCheck,
  expectGrantRecord,
  expectNoEvents,
  nextSecond,
  registryFixture,
  validUntil,
  type CheckAnswer,
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

/** Which grant of which subject: the subject's grant of EMAIL for MARKETING to the grantee, unless told. */
interface GrantKey {
  subject?: string;
  grantee?: string;
  category?: string;
  purpose?: string;
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

  /** Asserts what check() answers for a grant (see GrantKey) at the latest block. */
  function expectCheckOf(expected: CheckAnswer, key: GrantKey = {}): Promise<void> {
    const { subject = subjectAddress, grantee = granteeAddress, category = EMAIL, purpose = MARKETING } = key;
    return expectCheck(f.registry, subject, grantee, category, purpose, expected);
  }

  /**
   * Asserts the boundaries of the half-open window [.., expiresAt) of the subject's EMAIL/MARKETING
   * grant: valid one second before `expiresAt`, not valid for `reason` from that second on.
   */
  async function expectValidUntil(expiresAt: number, reason = DenyReason.Expired): Promise<void> {
    await time.increaseTo(expiresAt - 1);
    await expectCheckOf(validUntil(expiresAt));
    await time.increaseTo(expiresAt);
    await expectCheckOf(denied(reason, expiresAt));
  }

  /** Asserts that an action asked for an expiry `before` seconds before now (0: now itself) reverts. */
  async function expectExpiryRejected(
    send: (expiresAt: number) => Promise<ContractTransactionResponse>,
    before: number,
  ): Promise<void> {
    const now = await nextSecond();
    await expect(send(now - before))
      .to.be.revertedWithCustomError(f.registry, "DataUseRegistryExpiryNotInFuture")
      .withArgs(now - before, now);
  }

  /**
   * Grants EMAIL/MARKETING again, at `at` (the next second unless told), for a day, and asserts that
   * it is issued anew: GrantIssued and no GrantExpiryChanged, a record from `at`, valid.
   */
  async function expectIssuedAnew(at?: number): Promise<void> {
    const grantedAt = at ?? (await time.latest()) + 1;
    await time.setNextBlockTimestamp(grantedAt);
    const expiresAt = grantedAt + DAY;
    const tx = actions.grant(f.registry, f.subject, granteeAddress, EMAIL, MARKETING, expiresAt);
    await expect(tx)
      .to.emit(f.registry, "GrantIssued")
      .withArgs(subjectAddress, granteeAddress, EMAIL, MARKETING, expiresAt);
    await expect(tx).not.to.emit(f.registry, "GrantExpiryChanged");
    const grantId = grantIdOf(subjectAddress, granteeAddress, EMAIL, MARKETING);
    await expectGrantRecord(f.registry, subjectAddress, grantId, { grantee: granteeAddress, grantedAt, expiresAt });
    await expectCheckOf(validUntil(expiresAt));
  }

  describe("grant", function () {
    it("issues a grant: GrantIssued, the stored record, and check() valid until expiresAt", async function () {
      const grantedAt = await nextSecond();
      const expiresAt = grantedAt + 30 * DAY;
      await expect(actions.grant(f.registry, f.subject, granteeAddress, EMAIL, MARKETING, expiresAt))
        .to.emit(f.registry, "GrantIssued")
        .withArgs(subjectAddress, granteeAddress, EMAIL, MARKETING, expiresAt);

      const grantId = grantIdOf(subjectAddress, granteeAddress, EMAIL, MARKETING);
      await expectGrantRecord(f.registry, subjectAddress, grantId, { grantee: granteeAddress, grantedAt, expiresAt });
      await expectCheckOf(validUntil(expiresAt));
    });

    it("answers NoGrant before any grant, and for another category, purpose, grantee or subject", async function () {
      await expectCheckOf(denied(DenyReason.NoGrant));
      await issue();
      for (const key of [
        { category: PHONE },
        { purpose: SERVICE },
        { grantee: f.otherGrantee.address },
        { subject: f.other.address },
      ]) {
        await expectCheckOf(denied(DenyReason.NoGrant), key);
      }
    });

    it("is valid in the half-open window [grantedAt, expiresAt)", async function () {
      const { expiresAt } = await issue(100);
      await expectValidUntil(expiresAt);
    });

    it("rejects an expiry equal to now", async function () {
      await expectExpiryRejected((at) => actions.grant(f.registry, f.subject, granteeAddress, EMAIL, MARKETING, at), 0);
    });

    it("rejects an expiry in the past", async function () {
      await expectExpiryRejected((at) => actions.grant(f.registry, f.subject, granteeAddress, EMAIL, MARKETING, at), 1);
    });

    it("accepts an expiry one second from now", async function () {
      const now = await nextSecond();
      await expect(actions.grant(f.registry, f.subject, granteeAddress, EMAIL, MARKETING, now + 1))
        .to.emit(f.registry, "GrantIssued")
        .withArgs(subjectAddress, granteeAddress, EMAIL, MARKETING, now + 1);
      await expectCheckOf(validUntil(now + 1));
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
        await expectGrantRecord(f.registry, subjectAddress, grantId, { grantedAt, expiresAt: newExpiresAt });
        await expectCheckOf(validUntil(newExpiresAt));
      });
    }

    it("on an active grant with the same expiry emits nothing", async function () {
      const { grantedAt, expiresAt, grantId } = await issue();
      await expectNoEvents(actions.grant(f.registry, f.subject, granteeAddress, EMAIL, MARKETING, expiresAt));
      await expectGrantRecord(f.registry, subjectAddress, grantId, { grantedAt, expiresAt });
    });

    it("after expiry issues the grant anew, from the new time", async function () {
      const { expiresAt } = await issue(100);
      await time.increaseTo(expiresAt + 50);
      await expectIssuedAnew();
    });

    it("exactly at the old expiry issues the grant anew", async function () {
      const { expiresAt } = await issue(100);
      await expectIssuedAnew(expiresAt);
    });

    it("after revocation issues the grant anew, from the new time", async function () {
      const { grantId } = await issue();
      await actions.revoke(f.registry, f.subject, grantId);
      await expectIssuedAnew();
    });

    it("keeps grants of different categories, purposes and grantees apart", async function () {
      const keys = [
        { category: EMAIL, purpose: MARKETING, grantee: granteeAddress },
        { category: PHONE, purpose: MARKETING, grantee: granteeAddress },
        { category: EMAIL, purpose: SERVICE, grantee: granteeAddress },
        { category: EMAIL, purpose: MARKETING, grantee: f.otherGrantee.address },
      ];
      const issued = [];
      for (const [i, key] of keys.entries()) {
        issued.push(await issue((i + 1) * 10 * DAY, key.category, key.purpose, key.grantee));
      }
      expect(new Set(issued.map((grant) => grant.grantId)).size).to.equal(keys.length);
      for (const [i, key] of keys.entries()) {
        await expectCheckOf(validUntil(issued[i].expiresAt), key);
      }
    });
  });

  describe("changeExpiry", function () {
    it("extends an active grant", async function () {
      const { grantedAt, expiresAt, grantId } = await issue(100);
      const newExpiresAt = expiresAt + 100;
      await expect(actions.changeExpiry(f.registry, f.subject, grantId, newExpiresAt))
        .to.emit(f.registry, "GrantExpiryChanged")
        .withArgs(subjectAddress, granteeAddress, grantId, expiresAt, newExpiresAt);
      await expectGrantRecord(f.registry, subjectAddress, grantId, {
        grantee: granteeAddress,
        grantedAt,
        expiresAt: newExpiresAt,
      });
      await time.increaseTo(expiresAt);
      await expectCheckOf(validUntil(newExpiresAt));
      await expectValidUntil(newExpiresAt);
    });

    it("shortens an active grant", async function () {
      const { expiresAt, grantId } = await issue(100);
      const newExpiresAt = expiresAt - 50;
      await expect(actions.changeExpiry(f.registry, f.subject, grantId, newExpiresAt))
        .to.emit(f.registry, "GrantExpiryChanged")
        .withArgs(subjectAddress, granteeAddress, grantId, expiresAt, newExpiresAt);
      await expectValidUntil(newExpiresAt);
    });

    it("with the same expiry emits nothing", async function () {
      const { expiresAt, grantId } = await issue();
      await expectNoEvents(actions.changeExpiry(f.registry, f.subject, grantId, expiresAt));
      await expectGrantRecord(f.registry, subjectAddress, grantId, { expiresAt });
    });

    it("rejects an expiry equal to now or in the past", async function () {
      const { grantId } = await issue();
      const changeTo = (at: number) => actions.changeExpiry(f.registry, f.subject, grantId, at);
      await expectExpiryRejected(changeTo, 0);
      await expectExpiryRejected(changeTo, 10);
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
      await expectGrantRecord(f.registry, subjectAddress, grantId, { expiresAt });
    });

    it("on a grant ended by revokeAll records the expiry but check() stays Revoked", async function () {
      const { expiresAt, grantId } = await issue();
      await nextSecond();
      await actions.revokeAll(f.registry, f.subject, granteeAddress);
      await expect(actions.changeExpiry(f.registry, f.subject, grantId, expiresAt + DAY))
        .to.emit(f.registry, "GrantExpiryChanged")
        .withArgs(subjectAddress, granteeAddress, grantId, expiresAt, expiresAt + DAY);
      await expectGrantRecord(f.registry, subjectAddress, grantId, { expiresAt: expiresAt + DAY });
      await expectCheckOf(denied(DenyReason.Revoked));
    });
  });

  describe("revoke", function () {
    it("ends an active grant", async function () {
      const { grantedAt, grantId } = await issue();
      await expect(actions.revoke(f.registry, f.subject, grantId))
        .to.emit(f.registry, "GrantRevoked")
        .withArgs(subjectAddress, granteeAddress, grantId);
      await expectGrantRecord(f.registry, subjectAddress, grantId, {
        grantee: granteeAddress,
        grantedAt,
        expiresAt: 0,
      });
      await expectCheckOf(denied(DenyReason.Revoked));
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
      await expectNoEvents(actions.revoke(f.registry, f.subject, grantId));
    });

    it("of an expired grant does nothing, from its expiry second on", async function () {
      const { expiresAt, grantId } = await issue(100);
      await time.setNextBlockTimestamp(expiresAt);
      await expectNoEvents(actions.revoke(f.registry, f.subject, grantId));
      await expectGrantRecord(f.registry, subjectAddress, grantId, { expiresAt });
      await expectCheckOf(denied(DenyReason.Expired, expiresAt));
    });

    it("of a grant never issued does nothing", async function () {
      const grantId = grantIdOf(subjectAddress, granteeAddress, EMAIL, MARKETING);
      await expectNoEvents(actions.revoke(f.registry, f.subject, grantId));
      await expectGrantRecord(f.registry, subjectAddress, grantId, NO_RECORD);
    });

    it("by another account does nothing to the subject's grant", async function () {
      const { expiresAt, grantId } = await issue();
      await expectNoEvents(actions.revoke(f.registry, f.other, grantId));
      await expectCheckOf(validUntil(expiresAt));
    });

    it("by the grantee does nothing to the subject's grant", async function () {
      const { expiresAt, grantId } = await issue();
      await expectNoEvents(actions.revoke(f.registry, f.grantee, grantId));
      await expectGrantRecord(f.registry, subjectAddress, grantId, { expiresAt });
    });

    it("of one grant leaves the subject's other grants valid", async function () {
      const a = await issue(DAY, EMAIL, MARKETING);
      const b = await issue(DAY, PHONE, MARKETING);
      await actions.revoke(f.registry, f.subject, a.grantId);
      await expectCheckOf(validUntil(b.expiresAt), { category: PHONE });
    });

    it("of a grant ended by revokeAll marks it revoked once more", async function () {
      const { grantId } = await issue();
      await nextSecond();
      await actions.revokeAll(f.registry, f.subject, granteeAddress);
      await expect(actions.revoke(f.registry, f.subject, grantId))
        .to.emit(f.registry, "GrantRevoked")
        .withArgs(subjectAddress, granteeAddress, grantId);
      await expectGrantRecord(f.registry, subjectAddress, grantId, { expiresAt: 0 });
      await expectCheckOf(denied(DenyReason.Revoked));
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
        await expectCheckOf(denied(DenyReason.Revoked), { category, purpose });
        // The records themselves are untouched: the cutoff ends them.
        await expectGrantRecord(f.registry, subjectAddress, grantId, { grantedAt, expiresAt });
      }
      await expectCheckOf(validUntil(toOther.expiresAt), { grantee: f.otherGrantee.address });
      await expectCheckOf(validUntil(otherSubjectExpiresAt), { subject: f.other.address });
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
      await expectCheckOf(denied(DenyReason.Revoked));
    });

    it("leaves grants issued in a later second valid, and re-granting issues anew", async function () {
      await issue(DAY, EMAIL, MARKETING);
      await nextSecond();
      await actions.revokeAll(f.registry, f.subject, granteeAddress);

      await expectIssuedAnew();
      const fresh = await issue(DAY, PHONE, SERVICE);
      await expectCheckOf(validUntil(fresh.expiresAt), { category: PHONE, purpose: SERVICE });
    });

    it("costs the same gas whatever the number of grants", async function () {
      // Two subjects in the same state but for how many grants each issued to the grantee.
      const [one, twenty] = [f.subject, f.other];
      const expiresAt = (await time.latest()) + 30 * DAY;
      await f.registry.connect(one).grant(granteeAddress, EMAIL, MARKETING, expiresAt);
      await f.registry.connect(twenty).grantBatch(
        Array.from({ length: 20 }, (_, i) => ({
          grantee: granteeAddress,
          category: labelToId(`category.${i}`),
          purpose: MARKETING,
          expiresAt,
        })),
      );
      const gasOne = await executionGas(actions.revokeAll(f.registry, one, granteeAddress));
      const gasTwenty = await executionGas(actions.revokeAll(f.registry, twenty, granteeAddress));
      expect(gasTwenty).to.equal(gasOne);
      await expectCheckOf(denied(DenyReason.Revoked), { subject: twenty.address, category: labelToId("category.19") });
    });
  });

  describe("setDataExpiry", function () {
    it("sets, changes and clears a category's data expiry", async function () {
      const now = await time.latest();
      let previous = 0;
      for (const expiresAt of [now + DAY, now + 2 * DAY, 0]) {
        await expect(actions.setDataExpiry(f.registry, f.subject, EMAIL, expiresAt))
          .to.emit(f.registry, "DataExpirySet")
          .withArgs(subjectAddress, EMAIL, previous, expiresAt);
        expect(await f.registry.dataExpiryOf(subjectAddress, EMAIL)).to.equal(expiresAt);
        previous = expiresAt;
      }
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
      await expectNoEvents(actions.setDataExpiry(f.registry, f.subject, EMAIL, expiresAt));
    });

    it("clearing when none is set emits nothing", async function () {
      await expectNoEvents(actions.setDataExpiry(f.registry, f.subject, EMAIL, 0));
    });

    it("rejects a time equal to now or in the past", async function () {
      const setTo = (at: number) => actions.setDataExpiry(f.registry, f.subject, EMAIL, at);
      await expectExpiryRejected(setTo, 0);
      await expectExpiryRejected(setTo, 1);
    });

    it("caps an otherwise valid grant: valid one second before, DataExpired at that second", async function () {
      const { expiresAt } = await issue(30 * DAY);
      const dataExpiresAt = (await time.latest()) + DAY;
      await actions.setDataExpiry(f.registry, f.subject, EMAIL, dataExpiresAt);
      await expectCheckOf(validUntil(dataExpiresAt));
      await expectValidUntil(dataExpiresAt, DenyReason.DataExpired);
      // Still DataExpired after the grant's own expiry: the data expiry came first.
      await time.increaseTo(expiresAt);
      await expectCheckOf(denied(DenyReason.DataExpired, dataExpiresAt));
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

      await expectCheckOf(denied(DenyReason.DataExpired, dataExpiresAt));
      await expectCheckOf(denied(DenyReason.DataExpired, dataExpiresAt), {
        grantee: f.otherGrantee.address,
        purpose: SERVICE,
      });
      await expectCheckOf(validUntil(phone.expiresAt), { category: PHONE });
      await expectCheckOf(validUntil(otherExpiresAt), { subject: f.other.address });
    });

    it("after the grant's own expiry leaves the reason Expired", async function () {
      const { expiresAt } = await issue(100);
      await actions.setDataExpiry(f.registry, f.subject, EMAIL, expiresAt + 100);
      await expectCheckOf(validUntil(expiresAt));
      await expectValidUntil(expiresAt);
      await time.increaseTo(expiresAt + 100);
      await expectCheckOf(denied(DenyReason.Expired, expiresAt));
    });

    it("at the same second as the grant's own expiry reports Expired", async function () {
      const { expiresAt } = await issue(100);
      await actions.setDataExpiry(f.registry, f.subject, EMAIL, expiresAt);
      await time.increaseTo(expiresAt);
      await expectCheckOf(denied(DenyReason.Expired, expiresAt));
    });

    it("cleared, makes the capped grant valid again", async function () {
      const { expiresAt } = await issue(30 * DAY);
      const dataExpiresAt = (await time.latest()) + DAY;
      await actions.setDataExpiry(f.registry, f.subject, EMAIL, dataExpiresAt);
      await time.increaseTo(dataExpiresAt + 10);
      await expect(actions.setDataExpiry(f.registry, f.subject, EMAIL, 0))
        .to.emit(f.registry, "DataExpirySet")
        .withArgs(subjectAddress, EMAIL, dataExpiresAt, 0);
      await expectCheckOf(validUntil(expiresAt));
    });

    it("does not override a revocation", async function () {
      const { grantId } = await issue(30 * DAY);
      await actions.setDataExpiry(f.registry, f.subject, EMAIL, (await time.latest()) + DAY);
      await actions.revoke(f.registry, f.subject, grantId);
      await expectCheckOf(denied(DenyReason.Revoked));
    });

    it("can be set by a subject with no grant at all", async function () {
      const expiresAt = (await time.latest()) + DAY;
      await expect(actions.setDataExpiry(f.registry, f.other, PHONE, expiresAt))
        .to.emit(f.registry, "DataExpirySet")
        .withArgs(f.other.address, PHONE, 0, expiresAt);
      await expectCheckOf(denied(DenyReason.NoGrant), { subject: f.other.address, category: PHONE });
    });
  });
}
