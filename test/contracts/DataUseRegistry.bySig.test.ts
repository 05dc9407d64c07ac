import { expect } from "chai";
import { ethers, network } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { ContractTransactionResponse, TypedDataDomain } from "ethers";
import { grantIdOf } from "../../core/ids";
import { readDomain, type SignedActionKind, type SignedActionMessages } from "../../core/eip712";
import type { DataUseRegistry } from "../../typechain-types";
import { shouldBehaveLikeDataUseRegistry } from "./DataUseRegistry.behavior";
import {
  DAY,
  DenyReason,
  EMAIL,
  MARKETING,
  PHONE,
  bySigActions,
  expectCheck,
  registryFixture,
  signAction,
} from "./DataUseRegistry.helpers";

async function signaturesFixture() {
  const base = await registryFixture();
  const wallet = await ethers.deployContract("ERC1271WalletMock", [base.walletOwner.address]);
  const rejectingWallet = await ethers.deployContract("ERC1271RejectingWalletMock");
  const otherRegistry = await ethers.deployContract("DataUseRegistry");
  return { ...base, wallet, rejectingWallet, otherRegistry };
}

const HOUR = 3_600;

type Fixture = Awaited<ReturnType<typeof signaturesFixture>>;

/** A subject: its address, who signs for it, and how it calls the registry itself. */
interface Subject {
  address: string;
  signer: HardhatEthersSigner;
  /** Issues a grant by the subject's own transaction. */
  grant(grantee: string, category: string, purpose: string, expiresAt: number): Promise<unknown>;
}

function eoaSubject(f: Fixture, signer: HardhatEthersSigner): Subject {
  return {
    address: signer.address,
    signer,
    grant: async (...args) => (await f.registry.connect(signer).grant(...args)).wait(),
  };
}

async function walletSubject(f: Fixture): Promise<Subject> {
  const registryAddress = await f.registry.getAddress();
  return {
    address: await f.wallet.getAddress(),
    signer: f.walletOwner,
    grant: async (...args) =>
      (
        await f.wallet
          .connect(f.walletOwner)
          .execute(registryAddress, f.registry.interface.encodeFunctionData("grant", args))
      ).wait(),
  };
}

type Fields<K extends SignedActionKind> = Omit<SignedActionMessages[K], "subject" | "nonce" | "deadline">;
type AnyMessage = SignedActionMessages[SignedActionKind];

interface SignedCase<K extends SignedActionKind> {
  kind: K;
  /** Puts the subject in a state where the action has an effect; returns its fields. */
  prepare(f: Fixture, subject: Subject): Promise<Fields<K>>;
  relay(
    registry: DataUseRegistry,
    message: SignedActionMessages[K],
    signature: string,
  ): Promise<ContractTransactionResponse>;
  /** The event the action emits and its arguments. */
  event(f: Fixture, message: SignedActionMessages[K]): [string, unknown[]];
}

const cases: SignedCase<SignedActionKind>[] = [
  {
    kind: "Grant",
    prepare: async (f) => ({
      grantee: f.grantee.address,
      category: EMAIL,
      purpose: MARKETING,
      expiresAt: BigInt((await time.latest()) + DAY),
    }),
    relay: (registry, m, signature) => {
      const { subject, grantee, category, purpose, expiresAt, deadline } = m as SignedActionMessages["Grant"];
      return registry.grantBySig(subject, grantee, category, purpose, expiresAt, deadline, signature);
    },
    event: (_f, m) => {
      const { subject, grantee, category, purpose, expiresAt } = m as SignedActionMessages["Grant"];
      return ["GrantIssued", [subject, grantee, category, purpose, expiresAt]];
    },
  } satisfies SignedCase<"Grant"> as SignedCase<SignedActionKind>,
  {
    kind: "ChangeExpiry",
    prepare: async (f, subject) => {
      const now = await time.latest();
      await subject.grant(f.grantee.address, EMAIL, MARKETING, now + DAY);
      return { grantId: grantIdOf(subject.address, f.grantee.address, EMAIL, MARKETING), expiresAt: BigInt(now + 2 * DAY) };
    },
    relay: (registry, m, signature) => {
      const { subject, grantId, expiresAt, deadline } = m as SignedActionMessages["ChangeExpiry"];
      return registry.changeExpiryBySig(subject, grantId, expiresAt, deadline, signature);
    },
    event: (f, m) => {
      const { subject, grantId, expiresAt } = m as SignedActionMessages["ChangeExpiry"];
      return ["GrantExpiryChanged", [subject, f.grantee.address, grantId, BigInt(expiresAt) - BigInt(DAY), expiresAt]];
    },
  } satisfies SignedCase<"ChangeExpiry"> as SignedCase<SignedActionKind>,
  {
    kind: "Revoke",
    prepare: async (f, subject) => {
      await subject.grant(f.grantee.address, EMAIL, MARKETING, (await time.latest()) + DAY);
      return { grantId: grantIdOf(subject.address, f.grantee.address, EMAIL, MARKETING) };
    },
    relay: (registry, m, signature) => {
      const { subject, grantId, deadline } = m as SignedActionMessages["Revoke"];
      return registry.revokeBySig(subject, grantId, deadline, signature);
    },
    event: (f, m) => {
      const { subject, grantId } = m as SignedActionMessages["Revoke"];
      return ["GrantRevoked", [subject, f.grantee.address, grantId]];
    },
  } satisfies SignedCase<"Revoke"> as SignedCase<SignedActionKind>,
  {
    kind: "RevokeAll",
    prepare: async (f) => ({ grantee: f.grantee.address }),
    relay: (registry, m, signature) => {
      const { subject, grantee, deadline } = m as SignedActionMessages["RevokeAll"];
      return registry.revokeAllBySig(subject, grantee, deadline, signature);
    },
    event: (_f, m) => {
      const { subject, grantee } = m as SignedActionMessages["RevokeAll"];
      return ["AllGrantsRevoked", [subject, grantee]];
    },
  } satisfies SignedCase<"RevokeAll"> as SignedCase<SignedActionKind>,
  {
    kind: "SetDataExpiry",
    prepare: async () => ({ category: PHONE, expiresAt: BigInt((await time.latest()) + DAY) }),
    relay: (registry, m, signature) => {
      const { subject, category, expiresAt, deadline } = m as SignedActionMessages["SetDataExpiry"];
      return registry.setDataExpiryBySig(subject, category, expiresAt, deadline, signature);
    },
    event: (_f, m) => {
      const { subject, category, expiresAt } = m as SignedActionMessages["SetDataExpiry"];
      return ["DataExpirySet", [subject, category, 0, expiresAt]];
    },
  } satisfies SignedCase<"SetDataExpiry"> as SignedCase<SignedActionKind>,
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

    /** Prepares `c` for `subject` and builds its message with the subject's current nonce. */
    async function messageFor(c: SignedCase<SignedActionKind>, subject: Subject) {
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
      const subject = eoaSubject(f, f.subject);
      expect(await f.registry.nonces(subject.address)).to.equal(0);
      let expected = 0n;
      for (const c of cases) {
        const message = await messageFor(c, subject);
        expect(message.nonce).to.equal(expected);
        await c.relay(f.registry.connect(f.relayer), message, await sign(c, subject.signer, message));
        expected += 1n;
        expect(await f.registry.nonces(subject.address)).to.equal(expected);
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
      const message = (await messageFor(grantCase, eoaSubject(f, f.subject))) as SignedActionMessages["Grant"];
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
          const subject = eoaSubject(f, f.subject);
          const message = await messageFor(c, subject);
          const signature = await sign(c, f.subject, message);
          const [event, args] = c.event(f, message);
          await expect(c.relay(f.registry.connect(f.relayer), message, signature))
            .to.emit(f.registry, event)
            .withArgs(...args);
          expect(await f.registry.nonces(subject.address)).to.equal(message.nonce + 1n);
        });

        it("rejects a signature by another account", async function () {
          const message = await messageFor(c, eoaSubject(f, f.subject));
          const signature = await sign(c, f.other, message);
          await expect(c.relay(f.registry.connect(f.relayer), message, signature))
            .to.be.revertedWithCustomError(f.registry, "DataUseRegistryInvalidSignature")
            .withArgs(f.subject.address);
        });

        it("rejects a malformed signature", async function () {
          const message = await messageFor(c, eoaSubject(f, f.subject));
          const signature = await sign(c, f.subject, message);
          for (const bad of ["0x", ethers.dataSlice(signature, 0, 64), ethers.ZeroHash + "00".repeat(33)]) {
            await expect(c.relay(f.registry.connect(f.relayer), message, bad))
              .to.be.revertedWithCustomError(f.registry, "DataUseRegistryInvalidSignature")
              .withArgs(f.subject.address);
          }
        });

        it("rejects a replay of the same signature: the nonce is consumed", async function () {
          const message = await messageFor(c, eoaSubject(f, f.subject));
          const signature = await sign(c, f.subject, message);
          await c.relay(f.registry.connect(f.relayer), message, signature);
          await expect(c.relay(f.registry.connect(f.other), message, signature))
            .to.be.revertedWithCustomError(f.registry, "DataUseRegistryInvalidSignature")
            .withArgs(f.subject.address);
        });

        it("rejects a signature made for a later nonce", async function () {
          const message = await messageFor(c, eoaSubject(f, f.subject));
          const ahead = { ...message, nonce: message.nonce + 1n };
          await expect(c.relay(f.registry.connect(f.relayer), ahead, await sign(c, f.subject, ahead)))
            .to.be.revertedWithCustomError(f.registry, "DataUseRegistryInvalidSignature")
            .withArgs(f.subject.address);
        });

        it("rejects a signature relayed with another deadline", async function () {
          const message = await messageFor(c, eoaSubject(f, f.subject));
          const signature = await sign(c, f.subject, message);
          await expect(
            c.relay(f.registry.connect(f.relayer), { ...message, deadline: BigInt(message.deadline) + 1n }, signature),
          )
            .to.be.revertedWithCustomError(f.registry, "DataUseRegistryInvalidSignature")
            .withArgs(f.subject.address);
        });

        it("rejects an expired deadline", async function () {
          const message = await messageFor(c, eoaSubject(f, f.subject));
          const signature = await sign(c, f.subject, message);
          await time.setNextBlockTimestamp(BigInt(message.deadline) + 1n);
          await expect(c.relay(f.registry.connect(f.relayer), message, signature))
            .to.be.revertedWithCustomError(f.registry, "DataUseRegistryExpiredSignature")
            .withArgs(message.deadline);
        });

        it("accepts a deadline equal to now", async function () {
          const message = await messageFor(c, eoaSubject(f, f.subject));
          const signature = await sign(c, f.subject, message);
          await time.setNextBlockTimestamp(message.deadline);
          const [event, args] = c.event(f, message);
          await expect(c.relay(f.registry.connect(f.relayer), message, signature))
            .to.emit(f.registry, event)
            .withArgs(...args);
        });

        it("rejects a signature for another chain id", async function () {
          const message = await messageFor(c, eoaSubject(f, f.subject));
          const signature = await sign(c, f.subject, message, { chainId: 1 });
          await expect(c.relay(f.registry.connect(f.relayer), message, signature))
            .to.be.revertedWithCustomError(f.registry, "DataUseRegistryInvalidSignature")
            .withArgs(f.subject.address);
        });

        it("rejects a signature for another registry", async function () {
          const message = await messageFor(c, eoaSubject(f, f.subject));
          const signature = await sign(c, f.subject, message, { verifyingContract: await f.otherRegistry.getAddress() });
          await expect(c.relay(f.registry.connect(f.relayer), message, signature))
            .to.be.revertedWithCustomError(f.registry, "DataUseRegistryInvalidSignature")
            .withArgs(f.subject.address);
        });

        it("accepts an EIP-1271 wallet's signature made by its owner", async function () {
          const subject = await walletSubject(f);
          const message = await messageFor(c, subject);
          const signature = await sign(c, f.walletOwner, message);
          const [event, args] = c.event(f, message);
          await expect(c.relay(f.registry.connect(f.relayer), message, signature))
            .to.emit(f.registry, event)
            .withArgs(...args);
          expect(await f.registry.nonces(subject.address)).to.equal(message.nonce + 1n);
          expect(await f.registry.nonces(f.walletOwner.address)).to.equal(0);
        });

        it("rejects an EIP-1271 wallet's signature made by someone else", async function () {
          const subject = await walletSubject(f);
          const message = await messageFor(c, subject);
          await expect(c.relay(f.registry.connect(f.relayer), message, await sign(c, f.other, message)))
            .to.be.revertedWithCustomError(f.registry, "DataUseRegistryInvalidSignature")
            .withArgs(subject.address);
        });

        it("rejects what an EIP-1271 wallet rejects", async function () {
          const address = await f.rejectingWallet.getAddress();
          // The rejecting wallet cannot call the registry itself; its actions need no prior state here.
          const message = {
            ...(await messageFor(c, eoaSubject(f, f.subject))),
            subject: address,
            nonce: await f.registry.nonces(address),
          } as AnyMessage;
          await expect(c.relay(f.registry.connect(f.relayer), message, await sign(c, f.subject, message)))
            .to.be.revertedWithCustomError(f.registry, "DataUseRegistryInvalidSignature")
            .withArgs(address);
        });
      });
    }

    it("an EIP-1271 wallet's relayed grant is valid for check()", async function () {
      const subject = await walletSubject(f);
      const [grantCase] = cases;
      const message = (await messageFor(grantCase, subject)) as SignedActionMessages["Grant"];
      await grantCase.relay(f.registry.connect(f.relayer), message, await sign(grantCase, f.walletOwner, message));
      await expectCheck(f.registry, subject.address, message.grantee, message.category, message.purpose, {
        valid: true,
        expiresAt: message.expiresAt,
        reason: DenyReason.None,
      });
    });
  });
});
