import { expect } from "chai";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { BigNumberish, ContractTransactionResponse, TypedDataDomain } from "ethers";
import { labelToId } from "../../core/ids";
import { readDomain, typesFor, type SignedActionKind, type SignedActionMessages } from "../../core/eip712";
import { DENY_REASON_CODES, type DenyCode } from "../../core/errorCodes";
import type { DataUseRegistry } from "../../typechain-types";

function denyReasonOf(code: DenyCode | null): bigint {
  const index = DENY_REASON_CODES.indexOf(code);
  if (index < 0) throw new Error(`DENY_REASON_CODES has no ${code}`);
  return BigInt(index);
}

/**
 * `IDataUseRegistry.DenyReason`, as the ABI returns it, read from the gateway's table in
 * core/errorCodes: every check() asserted in these tests proves that table and the contract agree.
 */
export const DenyReason = {
  None: denyReasonOf(null),
  NoGrant: denyReasonOf("NO_GRANT"),
  Expired: denyReasonOf("GRANT_EXPIRED"),
  Revoked: denyReasonOf("GRANT_REVOKED"),
  DataExpired: denyReasonOf("DATA_EXPIRED"),
} as const;

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

/** What `check()` answers: valid or not, until when, and why not. */
export interface CheckAnswer {
  valid: boolean;
  expiresAt: BigNumberish;
  reason: bigint;
}

/** `check()`'s answer for a grant valid until `expiresAt`. */
export function validUntil(expiresAt: BigNumberish): CheckAnswer {
  return { valid: true, expiresAt, reason: DenyReason.None };
}

/** `check()`'s answer for a grant not valid for `reason` (with no expiry for NoGrant and Revoked). */
export function denied(reason: bigint, expiresAt: BigNumberish = 0): CheckAnswer {
  return { valid: false, expiresAt, reason };
}

/** Asserts what `check()` answers at the latest block. */
export async function expectCheck(
  registry: DataUseRegistry,
  subject: string,
  grantee: string,
  category: string,
  purpose: string,
  expected: CheckAnswer,
): Promise<void> {
  const [valid, expiresAt, reason] = await registry.check(subject, grantee, category, purpose);
  expect({ valid, expiresAt, reason }).to.deep.equal({
    valid: expected.valid,
    expiresAt: BigInt(expected.expiresAt),
    reason: expected.reason,
  });
}

/** The fields of a stored grant record, as `getGrant()` returns them. */
export interface GrantRecord {
  grantee: string;
  grantedAt: BigNumberish;
  expiresAt: BigNumberish;
}

/** A grant slot never written. */
export const NO_RECORD: GrantRecord = { grantee: ethers.ZeroAddress, grantedAt: 0, expiresAt: 0 };

/** Asserts the fields given of the record `getGrant(subject, grantId)` returns. */
export async function expectGrantRecord(
  registry: DataUseRegistry,
  subject: string,
  grantId: string,
  expected: Partial<GrantRecord>,
): Promise<void> {
  const record = await registry.getGrant(subject, grantId);
  const fields = Object.keys(expected) as (keyof GrantRecord)[];
  const actual = Object.fromEntries(fields.map((field) => [field, record[field]]));
  const wanted = Object.fromEntries(
    fields.map((field) => [field, field === "grantee" ? expected.grantee : BigInt(expected[field]!)]),
  );
  expect(actual).to.deep.equal(wanted);
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

/** The fields of a signed action but for those every action has (subject, nonce, deadline). */
export type SignedActionFields<K extends SignedActionKind> = Omit<
  SignedActionMessages[K],
  "subject" | "nonce" | "deadline"
>;

/** Relays a signed action: calls its `...BySig` function with the fields of `message`. */
export const relayBySig: {
  [K in SignedActionKind]: (
    registry: DataUseRegistry,
    message: SignedActionMessages[K],
    signature: string,
  ) => Promise<ContractTransactionResponse>;
} = {
  Grant: (registry, m, signature) =>
    registry.grantBySig(m.subject, m.grantee, m.category, m.purpose, m.expiresAt, m.deadline, signature),
  ChangeExpiry: (registry, m, signature) =>
    registry.changeExpiryBySig(m.subject, m.grantId, m.expiresAt, m.deadline, signature),
  Revoke: (registry, m, signature) => registry.revokeBySig(m.subject, m.grantId, m.deadline, signature),
  RevokeAll: (registry, m, signature) => registry.revokeAllBySig(m.subject, m.grantee, m.deadline, signature),
  SetDataExpiry: (registry, m, signature) =>
    registry.setDataExpiryBySig(m.subject, m.category, m.expiresAt, m.deadline, signature),
};

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

/**
 * Has `subject` sign `fields` as its next action, with no deadline, and a relayer that is neither
 * subject nor grantee of any test relay it. The nonce counts the subject's signed actions still
 * waiting in the mempool (several relayed actions in one block, with automine off).
 */
async function signedAndRelayed<K extends SignedActionKind>(
  registry: DataUseRegistry,
  subject: HardhatEthersSigner,
  kind: K,
  fields: SignedActionFields<K>,
): Promise<ContractTransactionResponse> {
  const message = {
    ...fields,
    subject: subject.address,
    nonce: await registry.nonces(subject.address, { blockTag: "pending" }),
    deadline: ethers.MaxUint256,
  } as SignedActionMessages[K];
  const signature = await signAction(subject, registry, kind, message);
  const relayer = (await ethers.getSigners())[9];
  return relayBySig[kind](registry.connect(relayer), message, signature);
}

export const bySigActions: RegistryActions = {
  description: "EIP-712 signatures relayed by a third party (...BySig)",
  grant: (registry, subject, grantee, category, purpose, expiresAt) =>
    signedAndRelayed(registry, subject, "Grant", { grantee, category, purpose, expiresAt: BigInt(expiresAt) }),
  changeExpiry: (registry, subject, grantId, expiresAt) =>
    signedAndRelayed(registry, subject, "ChangeExpiry", { grantId, expiresAt: BigInt(expiresAt) }),
  revoke: (registry, subject, grantId) => signedAndRelayed(registry, subject, "Revoke", { grantId }),
  revokeAll: (registry, subject, grantee) => signedAndRelayed(registry, subject, "RevokeAll", { grantee }),
  setDataExpiry: (registry, subject, category, expiresAt) =>
    signedAndRelayed(registry, subject, "SetDataExpiry", { category, expiresAt: BigInt(expiresAt) }),
};
