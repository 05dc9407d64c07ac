import { expect } from "chai";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { BigNumberish, ContractTransactionResponse, TypedDataDomain } from "ethers";
import { labelToId } from "../../core/ids";
import { readDomain, typesFor, type SignedActionKind, type SignedActionMessages } from "../../core/eip712";
import type { DataUseRegistry } from "../../typechain-types";

/** `IDataUseRegistry.DenyReason`, as the ABI returns it. */
export const DenyReason = { None: 0n, NoGrant: 1n, Expired: 2n, Revoked: 3n, DataExpired: 4n } as const;

export const EMAIL = labelToId("contact.email");
export const PHONE = labelToId("contact.phone");
export const MARKETING = labelToId("dpv:Marketing");
export const SERVICE = labelToId("dpv:ServiceProvision");

export const DAY = 86_400;

export async function registryFixture() {
  const [subject, grantee, otherGrantee, other, relayer, walletOwner] = await ethers.getSigners();
  const registry = await ethers.deployContract("DataUseRegistry");
  return { registry, subject, grantee, otherGrantee, other, relayer, walletOwner };
}

export type RegistryFixture = Awaited<ReturnType<typeof registryFixture>>;

/** Sets the next block's timestamp to one second after the latest block's and returns it. */
export async function nextSecond(): Promise<number> {
  const t = (await time.latest()) + 1;
  await time.setNextBlockTimestamp(t);
  return t;
}

/** Asserts what `check()` answers at the latest block. */
export async function expectCheck(
  registry: DataUseRegistry,
  subject: string,
  grantee: string,
  category: string,
  purpose: string,
  expected: { valid: boolean; expiresAt: BigNumberish; reason: bigint },
): Promise<void> {
  const [valid, expiresAt, reason] = await registry.check(subject, grantee, category, purpose);
  expect({ valid, expiresAt, reason }).to.deep.equal({
    valid: expected.valid,
    expiresAt: BigInt(expected.expiresAt),
    reason: expected.reason,
  });
}

/** Asserts that a transaction succeeded and emitted no event at all. */
export async function expectNoEvents(tx: Promise<ContractTransactionResponse>): Promise<void> {
  const receipt = await (await tx).wait();
  expect(receipt!.status).to.equal(1);
  expect(receipt!.logs).to.have.lengthOf(0);
}

/** Gas of a transaction without its calldata cost (4 gas per zero byte, 16 per other byte). */
export async function executionGas(tx: Promise<ContractTransactionResponse>): Promise<bigint> {
  const response = await tx;
  const receipt = (await response.wait())!;
  const data = ethers.getBytes(response.data);
  const calldataGas = data.reduce((sum, byte) => sum + (byte === 0 ? 4n : 16n), 0n);
  return receipt.gasUsed - calldataGas;
}

/** Signs one EIP-712 action of the registry; `domain` overrides fields of the registry's own domain. */
export async function signAction<K extends SignedActionKind>(
  signer: HardhatEthersSigner,
  registry: DataUseRegistry,
  kind: K,
  message: SignedActionMessages[K],
  domain: Partial<TypedDataDomain> = {},
): Promise<string> {
  return signer.signTypedData({ ...(await readDomain(registry)), ...domain }, typesFor(kind), message);
}

/**
 * The five actions a subject takes on its grants, performed one way or another: by the subject's
 * own transaction, or signed by the subject (EIP-712) and relayed by a third party.
 */
export interface RegistryActions {
  readonly description: string;
  grant(
    registry: DataUseRegistry,
    subject: HardhatEthersSigner,
    grantee: string,
    category: string,
    purpose: string,
    expiresAt: BigNumberish,
  ): Promise<ContractTransactionResponse>;
  changeExpiry(
    registry: DataUseRegistry,
    subject: HardhatEthersSigner,
    grantId: string,
    expiresAt: BigNumberish,
  ): Promise<ContractTransactionResponse>;
  revoke(registry: DataUseRegistry, subject: HardhatEthersSigner, grantId: string): Promise<ContractTransactionResponse>;
  revokeAll(registry: DataUseRegistry, subject: HardhatEthersSigner, grantee: string): Promise<ContractTransactionResponse>;
  setDataExpiry(
    registry: DataUseRegistry,
    subject: HardhatEthersSigner,
    category: string,
    expiresAt: BigNumberish,
  ): Promise<ContractTransactionResponse>;
}

export const directActions: RegistryActions = {
  description: "direct calls",
  grant: (registry, subject, grantee, category, purpose, expiresAt) =>
    registry.connect(subject).grant(grantee, category, purpose, expiresAt),
  changeExpiry: (registry, subject, grantId, expiresAt) => registry.connect(subject).changeExpiry(grantId, expiresAt),
  revoke: (registry, subject, grantId) => registry.connect(subject).revoke(grantId),
  revokeAll: (registry, subject, grantee) => registry.connect(subject).revokeAll(grantee),
  setDataExpiry: (registry, subject, category, expiresAt) =>
    registry.connect(subject).setDataExpiry(category, expiresAt),
};

/** A relayer that is neither subject nor grantee of any test. */
async function relayerSigner(): Promise<HardhatEthersSigner> {
  return (await ethers.getSigners())[9];
}

/**
 * The subject's next nonce, counting its signed actions still waiting in the mempool (several
 * relayed actions in one block, with automine off).
 */
async function pendingNonce(registry: DataUseRegistry, subject: string): Promise<bigint> {
  return registry.nonces(subject, { blockTag: "pending" });
}

const DEADLINE = ethers.MaxUint256;

export const bySigActions: RegistryActions = {
  description: "EIP-712 signatures relayed by a third party (...BySig)",
  async grant(registry, subject, grantee, category, purpose, expiresAt) {
    const nonce = await pendingNonce(registry, subject.address);
    const signature = await signAction(subject, registry, "Grant", {
      subject: subject.address,
      grantee,
      category,
      purpose,
      expiresAt: BigInt(expiresAt),
      nonce,
      deadline: DEADLINE,
    });
    return registry
      .connect(await relayerSigner())
      .grantBySig(subject.address, grantee, category, purpose, expiresAt, DEADLINE, signature);
  },
  async changeExpiry(registry, subject, grantId, expiresAt) {
    const nonce = await pendingNonce(registry, subject.address);
    const signature = await signAction(subject, registry, "ChangeExpiry", {
      subject: subject.address,
      grantId,
      expiresAt: BigInt(expiresAt),
      nonce,
      deadline: DEADLINE,
    });
    return registry
      .connect(await relayerSigner())
      .changeExpiryBySig(subject.address, grantId, expiresAt, DEADLINE, signature);
  },
  async revoke(registry, subject, grantId) {
    const nonce = await pendingNonce(registry, subject.address);
    const signature = await signAction(subject, registry, "Revoke", {
      subject: subject.address,
      grantId,
      nonce,
      deadline: DEADLINE,
    });
    return registry.connect(await relayerSigner()).revokeBySig(subject.address, grantId, DEADLINE, signature);
  },
  async revokeAll(registry, subject, grantee) {
    const nonce = await pendingNonce(registry, subject.address);
    const signature = await signAction(subject, registry, "RevokeAll", {
      subject: subject.address,
      grantee,
      nonce,
      deadline: DEADLINE,
    });
    return registry.connect(await relayerSigner()).revokeAllBySig(subject.address, grantee, DEADLINE, signature);
  },
  async setDataExpiry(registry, subject, category, expiresAt) {
    const nonce = await pendingNonce(registry, subject.address);
    const signature = await signAction(subject, registry, "SetDataExpiry", {
      subject: subject.address,
      category,
      expiresAt: BigInt(expiresAt),
      nonce,
      deadline: DEADLINE,
    });
    return registry
      .connect(await relayerSigner())
      .setDataExpiryBySig(subject.address, category, expiresAt, DEADLINE, signature);
  },
};
