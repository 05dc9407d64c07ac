import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { dataSlice, getAddress, id, type ContractTransactionResponse } from "ethers";
import { labelToId, grantIdOf } from "../../core/ids";
import { readDomain, typesFor } from "../../core/eip712";

/** Gas budgets of issue #2, in gasUsed of one transaction (batch: per grant). */
export const GAS_BUDGETS = {
  newGrant: 48_500,
  changeExpiry: 32_000,
  revoke: 29_500,
  batch10PerGrant: 29_000,
  relayedGrant: 80_000,
  revokeAll: 46_000,
  anchor: 35_000,
} as const;

/** What each figure is compared against in the issue, for the printed table. */
export const GAS_REFERENCES: Record<keyof typeof GAS_BUDGETS, string> = {
  newGrant: "ERC-4907 setUser 48,768",
  changeExpiry: "ERC-4907 update 31,656",
  revoke: "AccessControl revokeRole 29,512",
  batch10PerGrant: "EAS multiAttest 218,912 each",
  relayedGrant: "ERC-2771 forwarded grant 86,786",
  revokeAll: "10 revokes one by one: 10 × the revoke figure",
  anchor: "EAS attest 249,600",
};

export type GasFigures = Record<keyof typeof GAS_BUDGETS, number>;

async function gasUsed(tx: Promise<ContractTransactionResponse>): Promise<number> {
  const receipt = await (await tx).wait();
  if (!receipt) throw new Error("transaction was not mined");
  return Number(receipt.gasUsed);
}

/**
 * The block time every measurement starts from (2098-02-04). Expiries, the deadline and the relayed
 * grant's signature go into the calldata, where a zero byte costs 4 gas instead of 16: fixing the time
 * and the registry's address (so its EIP-712 domain) makes every figure the same from run to run. No
 * byte of these expiries or of that signature is zero.
 */
const MEASURED_AT = 0xf0f0f0f0;

/** An account no one else uses: it deploys the registry from its first nonce, always to the same address. */
const REGISTRY_DEPLOYER = getAddress(dataSlice(id("measureGas deployer"), 12));

/**
 * Measures every budgeted operation on fresh deployments of the hardhat network. Each figure is the
 * gasUsed of a real transaction, in the state the operation name describes (a grant slot never
 * written before, a nonce slot used for the first time, and so on). The measurements run from a
 * snapshot that is reverted afterwards: the network is left as it was found, its clock included.
 */
export async function measureGas(hre: HardhatRuntimeEnvironment): Promise<GasFigures> {
  const { provider } = hre.network;
  const snapshot = await provider.send("evm_snapshot");
  try {
    return await measureAll(hre);
  } finally {
    await provider.send("evm_revert", [snapshot]);
  }
}

async function measureAll(hre: HardhatRuntimeEnvironment): Promise<GasFigures> {
  const { ethers } = hre;
  const { provider } = hre.network;
  const [subject, grantee, anchorer, relayer, other] = await ethers.getSigners();
  await provider.send("hardhat_setBalance", [REGISTRY_DEPLOYER, ethers.toQuantity(ethers.WeiPerEther)]);
  const deployer = await ethers.getImpersonatedSigner(REGISTRY_DEPLOYER);
  await provider.send("evm_setNextBlockTimestamp", [MEASURED_AT]);
  const registry = await ethers.deployContract("DataUseRegistry", deployer);
  const anchor = await ethers.deployContract("AuditAnchor", [anchorer.address]);
  const expiresAt = MEASURED_AT + 30 * 86_400;
  const category = labelToId("contact.email");
  const purpose = labelToId("dpv:ServiceProvision");

  const newGrant = await gasUsed(registry.connect(subject).grant(grantee.address, category, purpose, expiresAt));
  const grantId = grantIdOf(subject.address, grantee.address, category, purpose);
  const changeExpiry = await gasUsed(registry.connect(subject).changeExpiry(grantId, expiresAt + 86_400));
  const revoke = await gasUsed(registry.connect(subject).revoke(grantId));

  const requests = Array.from({ length: 10 }, (_, i) => ({
    grantee: grantee.address,
    category: labelToId(`batch.category.${i}`),
    purpose,
    expiresAt,
  }));
  const batch10PerGrant = Math.round((await gasUsed(registry.connect(subject).grantBatch(requests))) / requests.length);

  const domain = await readDomain(registry);
  const message = {
    subject: other.address,
    grantee: grantee.address,
    category,
    purpose,
    expiresAt,
    nonce: await registry.nonces(other.address),
    deadline: expiresAt,
  };
  const signature = await other.signTypedData(domain, typesFor("Grant"), message);
  const relayedGrant = await gasUsed(
    registry
      .connect(relayer)
      .grantBySig(other.address, grantee.address, category, purpose, expiresAt, expiresAt, signature),
  );

  const revokeAll = await gasUsed(registry.connect(subject).revokeAll(grantee.address));

  await anchor.connect(anchorer).grantRole(await anchor.ANCHORER_ROLE(), anchorer.address);
  // A fixed origin, so the log id in the calldata is the same from run to run; the figure is a
  // stream's second anchor, the steady state.
  const origin = "data-use-ledger/measureGas";
  await anchor.connect(anchorer).registerLog(origin, ethers.id("note key"), 30);
  const logId = ethers.id(origin);
  await anchor.connect(anchorer).anchor(logId, 1, ethers.id("root-1"));
  const anchorGas = await gasUsed(anchor.connect(anchorer).anchor(logId, 2, ethers.id("root-2")));

  return { newGrant, changeExpiry, revoke, batch10PerGrant, relayedGrant, revokeAll, anchor: anchorGas };
}
