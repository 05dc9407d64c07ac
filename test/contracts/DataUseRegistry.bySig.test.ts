import { expect } from "chai";
import { ethers, network } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { TypedDataDomain } from "ethers";
import { grantIdOf } from "../../core/ids";
import { readDomain, type SignedActionKind, type SignedActionMessages } from "../../core/eip712";
import { shouldBehaveLikeDataUseRegistry } from "./DataUseRegistry.behavior";
import {
  DAY,
  EMAIL,
  MARKETING,
  PHONE,
  bySigActions,
  expectCheck,
  registryFixture,
  relayBySig,
  signAction,
  validUntil,
  type SignedActionFields,
} from "./DataUseRegistry.helpers";

async function signaturesFixture() {
  const base = await registryFixture();
  const wallet = await ethers.deployContract("ERC1271WalletMock", [base.walletOwner.address]);
  const otherRegistry = await ethers.deployContract("DataUseRegistry");
  return { ...base, wallet, otherRegistry };
}

const HOUR = 3_600;

type Fixture = Awaited<ReturnType<typeof signaturesFixture>>;

/** A subject: its address, and how it calls the registry itself. */
interface Subject {
  address: string;
  /** Issues a grant by the subject's own transaction. */
  grant(grantee: string, category: string, purpose: string, expiresAt: number): Promise<unknown>;
}

function eoaSubject(f: Fixture, signer: HardhatEthersSigner): Subject {
  return {
    address: signer.address,
    grant: async (...args) => (await f.registry.connect(signer).grant(...args)).wait(),
  };
}

async function walletSubject(f: Fixture): Promise<Subject> {
  const registryAddress = await f.registry.getAddress();
  return {
    address: await f.wallet.getAddress(),
    grant: async (...args) =>
      (
        await f.wallet
          .connect(f.walletOwner)
          .execute(registryAddress, f.registry.interface.encodeFunctionData("grant", args))
      ).wait(),
  };
}

type AnyMessage = SignedActionMessages[SignedActionKind];

interface SignedCase<K extends SignedActionKind> {
  kind: K;
  /** Puts the subject in a state where the action has an effect; returns its fields. */
  prepare(f: Fixture, subject: Subject): Promise<SignedActionFields<K>>;
  /** The event the action emits and its arguments. */
  event(f: Fixture, message: SignedActionMessages[K]): [string, unknown[]];
}

/** Types one case by its own kind, to list it among the others. */
function signedCase<K extends SignedActionKind>(c: SignedCase<K>): SignedCase<SignedActionKind> {
  return c as unknown as SignedCase<SignedActionKind>;
}

const cases = [
  signedCase({
    kind: "Grant",
    prepare: async (f) => ({
      grantee: f.grantee.address,
      category: EMAIL,
      purpose: MARKETING,
      expiresAt: BigInt((await time.latest()) + DAY),
    }),
    event: (_f, { subject, grantee, category, purpose, expiresAt }) => [
      "GrantIssued",
      [subject, grantee, category, purpose, expiresAt],
    ],
  }),
  signedCase({
    kind: "ChangeExpiry",
    prepare: async (f, subject) => {
      const now = await time.latest();
      await subject.grant(f.grantee.address, EMAIL, MARKETING, now + DAY);
      return { grantId: grantIdOf(subject.address, f.grantee.address, EMAIL, MARKETING), expiresAt: BigInt(now + 2 * DAY) };
    },
    event: (f, { subject, grantId, expiresAt }) => [
      "GrantExpiryChanged",
      [subject, f.grantee.address, grantId, BigInt(expiresAt) - BigInt(DAY), expiresAt],
    ],
  }),
  signedCase({
    kind: "Revoke",
    prepare: async (f, subject) => {
      await subject.grant(f.grantee.address, EMAIL, MARKETING, (await time.latest()) + DAY);
      return { grantId: grantIdOf(subject.address, f.grantee.address, EMAIL, MARKETING) };
    },
    event: (f, { subject, grantId }) => ["GrantRevoked", [subject, f.grantee.address, grantId]],
  }),
  signedCase({
    kind: "RevokeAll",
    prepare: async (f) => ({ grantee: f.grantee.address }),
    event: (_f, { subject, grantee }) => ["AllGrantsRevoked", [subject, grantee]],
  }),
  signedCase({
    kind: "SetDataExpiry",
    prepare: async () => ({ category: PHONE, expiresAt: BigInt((await time.latest()) + DAY) }),
    event: (_f, { subject, category, expiresAt }) => ["DataExpirySet", [subject, category, 0, expiresAt]],
  }),
];

describe("DataUseRegistry", function () {
  describe(`actions by ${bySigActions.description}`, function () {
    shouldBehaveLikeDataUseRegistry(bySigActions);
  });

  describe("EIP-712 signatures", function () {
    let f: Fixture;

    beforeEach(async function () {
      f = await loadFixture(signaturesFixture);
    });

    /**
     * Prepares `c` for `subject` (the fixture's subject unless told) and builds its message with the
     * subject's current nonce.
     */
    async function messageFor(c: SignedCase<SignedActionKind>, subject = eoaSubject(f, f.subject)) {
      // The deadline comes well before the expiries the cases use, so the action still has its effect then.
      const fields = await c.prepare(f, subject);
      return {
        ...fields,
        subject: subject.address,
        nonce: await f.registry.nonces(subject.address),
        deadline: BigInt((await time.latest()) + HOUR),
      } as AnyMessage;
    }

    function sign(
      c: SignedCase<SignedActionKind>,
      signer: HardhatEthersSigner,
      message: AnyMessage,
      domain: Partial<TypedDataDomain> = {},
    ): Promise<string> {
      return signAction(signer, f.registry, c.kind, message as never, domain);
    }

    /** Relays `message` and `signature` to `c`'s ...BySig function, sent by the relayer unless told. */
    function relay(c: SignedCase<SignedActionKind>, message: AnyMessage, signature: string, sender = f.relayer) {
      return relayBySig[c.kind](f.registry.connect(sender), message as never, signature);
    }

    /** Asserts that relaying has the action's effect: its event, with its arguments. */
    async function expectRelayed(c: SignedCase<SignedActionKind>, message: AnyMessage, signature: string) {
      const [event, args] = c.event(f, message);
      await expect(relay(c, message, signature))
        .to.emit(f.registry, event)
        .withArgs(...args);
    }

    /** Asserts that relaying reverts: the signature is not `subject`'s (the fixture's subject unless told). */
    async function expectInvalidSignature(
      c: SignedCase<SignedActionKind>,
      message: AnyMessage,
      signature: string,
      { subject = f.subject.address, sender = f.relayer } = {},
    ) {
      await expect(relay(c, message, signature, sender))
        .to.be.revertedWithCustomError(f.registry, "DataUseRegistryInvalidSignature")
        .withArgs(subject);
    }

    it("eip712Domain() is DataUseRegistry version 1 on this chain and contract", async function () {
      const [fields, name, version, chainId, verifyingContract, salt, extensions] = await f.registry.eip712Domain();
      expect(fields).to.equal("0x0f");
      expect(name).to.equal("DataUseRegistry");
      expect(version).to.equal("1");
      expect(chainId).to.equal((await ethers.provider.getNetwork()).chainId);
      expect(chainId).to.equal(BigInt(network.config.chainId!));
      expect(verifyingContract).to.equal(await f.registry.getAddress());
      expect(salt).to.equal(ethers.ZeroHash);
      expect(extensions).to.deep.equal([]);
      expect(await readDomain(f.registry)).to.deep.equal({
        name: "DataUseRegistry",
        version: "1",
        chainId,
        verifyingContract: await f.registry.getAddress(),
      });
    });

    it("nonces start at zero and increase by one per signed action, per subject", async function () {
      expect(await f.registry.nonces(f.subject.address)).to.equal(0);
      let expected = 0n;
      for (const c of cases) {
        const message = await messageFor(c);
        expect(message.nonce).to.equal(expected);
        await relay(c, message, await sign(c, f.subject, message));
        expected += 1n;
        expect(await f.registry.nonces(f.subject.address)).to.equal(expected);
      }
      expect(await f.registry.nonces(f.other.address)).to.equal(0);
      expect(await f.registry.nonces(f.relayer.address)).to.equal(0);
    });

    it("direct calls do not use nonces", async function () {
      await f.registry.connect(f.subject).grant(f.grantee.address, EMAIL, MARKETING, (await time.latest()) + DAY);
      await f.registry.connect(f.subject).revokeAll(f.grantee.address);
      expect(await f.registry.nonces(f.subject.address)).to.equal(0);
    });

    it("grantBySig returns the grant's id", async function () {
      const [grantCase] = cases;
      const message = (await messageFor(grantCase)) as SignedActionMessages["Grant"];
      const signature = await sign(grantCase, f.subject, message);
      const { subject, grantee, category, purpose, expiresAt, deadline } = message;
      expect(
        await f.registry
          .connect(f.relayer)
          .grantBySig.staticCall(subject, grantee, category, purpose, expiresAt, deadline, signature),
      ).to.equal(grantIdOf(subject, grantee, category, purpose));
    });

    for (const c of cases) {
      describe(`${c.kind} (${c.kind.charAt(0).toLowerCase()}${c.kind.slice(1)}BySig)`, function () {
        it("relayed by a third party, acts for the subject and uses its nonce", async function () {
          const message = await messageFor(c);
          await expectRelayed(c, message, await sign(c, f.subject, message));
          expect(await f.registry.nonces(f.subject.address)).to.equal(message.nonce + 1n);
        });

        it("rejects a signature by another account", async function () {
          const message = await messageFor(c);
          await expectInvalidSignature(c, message, await sign(c, f.other, message));
        });

        it("rejects a malformed signature", async function () {
          const message = await messageFor(c);
          const signature = await sign(c, f.subject, message);
          for (const bad of ["0x", ethers.dataSlice(signature, 0, 64), ethers.ZeroHash + "00".repeat(33)]) {
            await expectInvalidSignature(c, message, bad);
          }
        });

        it("rejects a replay of the same signature: the nonce is consumed", async function () {
          const message = await messageFor(c);
          const signature = await sign(c, f.subject, message);
          await relay(c, message, signature);
          await expectInvalidSignature(c, message, signature, { sender: f.other });
        });

        it("rejects a signature made for a later nonce", async function () {
          const message = await messageFor(c);
          const ahead = { ...message, nonce: message.nonce + 1n };
          await expectInvalidSignature(c, ahead, await sign(c, f.subject, ahead));
        });

        it("rejects a signature relayed with another deadline", async function () {
          const message = await messageFor(c);
          const signature = await sign(c, f.subject, message);
          await expectInvalidSignature(c, { ...message, deadline: BigInt(message.deadline) + 1n }, signature);
        });

        it("rejects an expired deadline", async function () {
          const message = await messageFor(c);
          const signature = await sign(c, f.subject, message);
          await time.setNextBlockTimestamp(BigInt(message.deadline) + 1n);
          await expect(relay(c, message, signature))
            .to.be.revertedWithCustomError(f.registry, "DataUseRegistryExpiredSignature")
            .withArgs(message.deadline);
        });

        it("accepts a deadline equal to now", async function () {
          const message = await messageFor(c);
          const signature = await sign(c, f.subject, message);
          await time.setNextBlockTimestamp(message.deadline);
          await expectRelayed(c, message, signature);
        });

        it("rejects a signature for another chain id", async function () {
          const message = await messageFor(c);
          await expectInvalidSignature(c, message, await sign(c, f.subject, message, { chainId: 1 }));
        });

        it("rejects a signature for another registry", async function () {
          const message = await messageFor(c);
          const verifyingContract = await f.otherRegistry.getAddress();
          await expectInvalidSignature(c, message, await sign(c, f.subject, message, { verifyingContract }));
        });

        it("accepts an EIP-1271 wallet's signature made by its owner", async function () {
          const subject = await walletSubject(f);
          const message = await messageFor(c, subject);
          await expectRelayed(c, message, await sign(c, f.walletOwner, message));
          expect(await f.registry.nonces(subject.address)).to.equal(message.nonce + 1n);
          expect(await f.registry.nonces(f.walletOwner.address)).to.equal(0);
        });

        it("rejects an EIP-1271 wallet's signature made by someone else", async function () {
          const subject = await walletSubject(f);
          const message = await messageFor(c, subject);
          await expectInvalidSignature(c, message, await sign(c, f.other, message), { subject: subject.address });
        });

        it("rejects what an EIP-1271 wallet rejects, even a signature by its owner", async function () {
          const subject = await walletSubject(f);
          const message = await messageFor(c, subject);
          const signature = await sign(c, f.walletOwner, message);
          await f.wallet.connect(f.walletOwner).setRefusing(true);
          await expectInvalidSignature(c, message, signature, { subject: subject.address });
          // The same signature goes through once the wallet accepts it again: the wallet's answer decided.
          await f.wallet.connect(f.walletOwner).setRefusing(false);
          await expectRelayed(c, message, signature);
        });
      });
    }

    it("an EIP-1271 wallet's relayed grant is valid for check()", async function () {
      const subject = await walletSubject(f);
      const [grantCase] = cases;
      const message = (await messageFor(grantCase, subject)) as SignedActionMessages["Grant"];
      await relay(grantCase, message, await sign(grantCase, f.walletOwner, message));
      const { grantee, category, purpose, expiresAt } = message;
      await expectCheck(f.registry, subject.address, grantee, category, purpose, validUntil(expiresAt));
    });
  });
});
