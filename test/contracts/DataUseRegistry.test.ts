import { expect } from "chai";
import { ethers } from "hardhat";
import type { Interface } from "ethers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { grantIdOf, labelToId } from "../../core/ids";
import { shouldBehaveLikeDataUseRegistry } from "./DataUseRegistry.behavior";
import {
  DAY,
  DenyReason,
  EMAIL,
  MARKETING,
  NO_RECORD,
  PHONE,
  SERVICE,
  denied,
  directActions,
  expectCheck,
  expectGrantRecord,
  expectNoEvents,
  nextSecond,
  registryFixture,
  validUntil,
} from "./DataUseRegistry.helpers";

describe("DataUseRegistry", function () {
  describe(`actions by ${directActions.description}`, function () {
    shouldBehaveLikeDataUseRegistry(directActions);
  });

  describe("grant return value", function () {
    it("returns the grant's id", async function () {
      const { registry, subject, grantee } = await loadFixture(registryFixture);
      const expiresAt = (await time.latest()) + DAY;
      expect(await registry.connect(subject).grant.staticCall(grantee.address, EMAIL, MARKETING, expiresAt)).to.equal(
        grantIdOf(subject.address, grantee.address, EMAIL, MARKETING),
      );
    });
  });

  describe("grantBatch", function () {
    it("issues every grant, one GrantIssued each, all at the block's time", async function () {
      const { registry, subject, grantee, otherGrantee } = await loadFixture(registryFixture);
      const now = await nextSecond();
      const requests = [
        { grantee: grantee.address, category: EMAIL, purpose: MARKETING, expiresAt: now + DAY },
        { grantee: grantee.address, category: PHONE, purpose: SERVICE, expiresAt: now + 2 * DAY },
        { grantee: otherGrantee.address, category: EMAIL, purpose: MARKETING, expiresAt: now + 3 * DAY },
      ];
      const tx = registry.connect(subject).grantBatch(requests);
      for (const r of requests) {
        await expect(tx)
          .to.emit(registry, "GrantIssued")
          .withArgs(subject.address, r.grantee, r.category, r.purpose, r.expiresAt);
      }
      expect((await (await tx).wait())!.logs).to.have.lengthOf(requests.length);
      for (const r of requests) {
        const grantId = grantIdOf(subject.address, r.grantee, r.category, r.purpose);
        await expectGrantRecord(registry, subject.address, grantId, {
          grantee: r.grantee,
          grantedAt: now,
          expiresAt: r.expiresAt,
        });
        await expectCheck(registry, subject.address, r.grantee, r.category, r.purpose, validUntil(r.expiresAt));
      }
    });

    it("mixes new grants, expiry changes and no-op items, in order", async function () {
      const { registry, subject, grantee } = await loadFixture(registryFixture);
      const start = await nextSecond();
      await registry.connect(subject).grant(grantee.address, EMAIL, MARKETING, start + DAY); // will move
      await registry.connect(subject).grant(grantee.address, PHONE, MARKETING, start + DAY); // unchanged
      const moved = grantIdOf(subject.address, grantee.address, EMAIL, MARKETING);

      const tx = registry.connect(subject).grantBatch([
        { grantee: grantee.address, category: EMAIL, purpose: MARKETING, expiresAt: start + 2 * DAY },
        { grantee: grantee.address, category: PHONE, purpose: MARKETING, expiresAt: start + DAY },
        { grantee: grantee.address, category: EMAIL, purpose: SERVICE, expiresAt: start + 3 * DAY },
        // The same new grant again in the batch: now active, so only its expiry moves.
        { grantee: grantee.address, category: EMAIL, purpose: SERVICE, expiresAt: start + 4 * DAY },
      ]);
      const receipt = (await (await tx).wait())!;
      const events = receipt.logs.map((log) => registry.interface.parseLog(log)!);
      expect(events.map((e) => e.name)).to.deep.equal(["GrantExpiryChanged", "GrantIssued", "GrantExpiryChanged"]);
      await expect(tx)
        .to.emit(registry, "GrantExpiryChanged")
        .withArgs(subject.address, grantee.address, moved, start + DAY, start + 2 * DAY);
      await expect(tx)
        .to.emit(registry, "GrantIssued")
        .withArgs(subject.address, grantee.address, EMAIL, SERVICE, start + 3 * DAY);
      await expect(tx)
        .to.emit(registry, "GrantExpiryChanged")
        .withArgs(
          subject.address,
          grantee.address,
          grantIdOf(subject.address, grantee.address, EMAIL, SERVICE),
          start + 3 * DAY,
          start + 4 * DAY,
        );
    });

    it("reverts as a whole when one item is invalid", async function () {
      const { registry, subject, grantee } = await loadFixture(registryFixture);
      const now = await nextSecond();
      const valid = { grantee: grantee.address, category: EMAIL, purpose: MARKETING, expiresAt: now + DAY };
      await expect(
        registry.connect(subject).grantBatch([valid, { ...valid, grantee: ethers.ZeroAddress }]),
      )
        .to.be.revertedWithCustomError(registry, "DataUseRegistryInvalidGrantee")
        .withArgs(ethers.ZeroAddress);

      const at = await nextSecond();
      await expect(registry.connect(subject).grantBatch([valid, { ...valid, category: PHONE, expiresAt: at }]))
        .to.be.revertedWithCustomError(registry, "DataUseRegistryExpiryNotInFuture")
        .withArgs(at, at);
      await expectCheck(registry, subject.address, grantee.address, EMAIL, MARKETING, denied(DenyReason.NoGrant));
    });

    it("of nothing emits nothing", async function () {
      const { registry, subject } = await loadFixture(registryFixture);
      await expectNoEvents(registry.connect(subject).grantBatch([]));
    });
  });

  describe("revokeBatch", function () {
    it("revokes each active grant, one GrantRevoked each, skipping ended and unknown ids", async function () {
      const { registry, subject, grantee, other } = await loadFixture(registryFixture);
      const now = await nextSecond();
      await registry.connect(subject).grantBatch([
        { grantee: grantee.address, category: EMAIL, purpose: MARKETING, expiresAt: now + DAY },
        { grantee: grantee.address, category: PHONE, purpose: MARKETING, expiresAt: now + DAY },
        { grantee: grantee.address, category: EMAIL, purpose: SERVICE, expiresAt: now + DAY },
        { grantee: grantee.address, category: PHONE, purpose: SERVICE, expiresAt: now + 10 },
      ]);
      await registry.connect(other).grant(grantee.address, EMAIL, MARKETING, now + DAY);
      const id = (category: string, purpose: string) => grantIdOf(subject.address, grantee.address, category, purpose);
      await registry.connect(subject).revoke(id(EMAIL, SERVICE));
      await time.increaseTo(now + 10);

      const tx = registry.connect(subject).revokeBatch([
        id(EMAIL, MARKETING),
        id(EMAIL, SERVICE), // already revoked
        id(PHONE, SERVICE), // expired
        labelToId("no such grant"), // unknown
        grantIdOf(other.address, grantee.address, EMAIL, MARKETING), // someone else's
        id(PHONE, MARKETING),
        id(PHONE, MARKETING), // twice in the batch
      ]);
      const events = (await (await tx).wait())!.logs.map((log) => registry.interface.parseLog(log)!);
      expect(events.map((e) => [e.name, e.args.grantId])).to.deep.equal([
        ["GrantRevoked", id(EMAIL, MARKETING)],
        ["GrantRevoked", id(PHONE, MARKETING)],
      ]);
      await expect(tx).to.emit(registry, "GrantRevoked").withArgs(subject.address, grantee.address, id(EMAIL, MARKETING));
      await expect(tx).to.emit(registry, "GrantRevoked").withArgs(subject.address, grantee.address, id(PHONE, MARKETING));

      await expectCheck(registry, subject.address, grantee.address, EMAIL, MARKETING, denied(DenyReason.Revoked));
      await expectCheck(registry, subject.address, grantee.address, PHONE, MARKETING, denied(DenyReason.Revoked));
      await expectCheck(registry, subject.address, grantee.address, PHONE, SERVICE, denied(DenyReason.Expired, now + 10));
      await expectCheck(registry, other.address, grantee.address, EMAIL, MARKETING, validUntil(now + DAY));
    });

    it("of nothing, or of no-op items only, emits nothing", async function () {
      const { registry, subject, grantee } = await loadFixture(registryFixture);
      await expectNoEvents(registry.connect(subject).revokeBatch([]));
      const neverIssued = grantIdOf(subject.address, grantee.address, EMAIL, MARKETING);
      await expectNoEvents(registry.connect(subject).revokeBatch([neverIssued, ethers.ZeroHash]));
    });
  });

  describe("views", function () {
    it("grantIdOf matches core/ids grantIdOf", async function () {
      const { registry, subject, grantee, other } = await loadFixture(registryFixture);
      for (const [s, g, c, p] of [
        [subject.address, grantee.address, EMAIL, MARKETING],
        [other.address, grantee.address, PHONE, SERVICE],
        [subject.address, other.address, labelToId("health.steps"), labelToId("dpv:ResearchAndDevelopment")],
        [ethers.ZeroAddress, ethers.ZeroAddress, ethers.ZeroHash, ethers.ZeroHash],
      ]) {
        expect(await registry.grantIdOf(s, g, c, p)).to.equal(grantIdOf(s, g, c, p));
      }
      // The order of the fields matters.
      expect(await registry.grantIdOf(subject.address, grantee.address, MARKETING, EMAIL)).not.to.equal(
        grantIdOf(subject.address, grantee.address, EMAIL, MARKETING),
      );
    });

    it("getGrant, dataExpiryOf and allRevokedAt are zero before anything happens", async function () {
      const { registry, subject, grantee } = await loadFixture(registryFixture);
      const grantId = grantIdOf(subject.address, grantee.address, EMAIL, MARKETING);
      await expectGrantRecord(registry, subject.address, grantId, NO_RECORD);
      expect(await registry.dataExpiryOf(subject.address, EMAIL)).to.equal(0);
      expect(await registry.allRevokedAt(subject.address, grantee.address)).to.equal(0);
    });
  });

  describe("no owner, no admin", function () {
    it("exposes exactly the functions of IDataUseRegistry, EIP-5267 and nonces", async function () {
      const { registry } = await loadFixture(registryFixture);
      const names = registry.interface.fragments
        .filter((fragment) => fragment.type === "function")
        .map((fragment) => (fragment as unknown as { name: string }).name)
        .sort();
      expect(names).to.deep.equal(
        [
          "allRevokedAt",
          "changeExpiry",
          "changeExpiryBySig",
          "check",
          "dataExpiryOf",
          "eip712Domain",
          "getGrant",
          "grant",
          "grantBatch",
          "grantBySig",
          "grantIdOf",
          "nonces",
          "revoke",
          "revokeAll",
          "revokeAllBySig",
          "revokeBatch",
          "revokeBySig",
          "setDataExpiry",
          "setDataExpiryBySig",
        ].sort(),
      );
      for (const name of ["owner", "transferOwnership", "renounceOwnership", "upgradeTo", "upgradeToAndCall"]) {
        expect((registry.interface as Interface).getFunction(name), name).to.equal(null);
      }
    });

    it("has no payable function (constructor included), no receive and no fallback", async function () {
      const { registry, other } = await loadFixture(registryFixture);
      const payable = registry.interface.fragments.filter(
        (fragment) => (fragment as unknown as { payable?: boolean }).payable === true,
      );
      expect(payable).to.have.lengthOf(0);
      expect(registry.interface.deploy.payable).to.equal(false);
      expect(registry.interface.fallback).to.equal(null);
      expect(registry.interface.receive).to.equal(false);
      await expect(other.sendTransaction({ to: await registry.getAddress(), value: 1n })).to.be.revertedWithoutReason();
    });
  });
});
