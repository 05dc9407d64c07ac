import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Signer } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { Deployment } from "../../core/deployment";

export interface DeployOptions {
  /** Accounts given the anchoring role of AuditAnchor (the gateway's key). Default: the deployer. */
  anchorers?: string[];
  /** Where to write the deployment file; `undefined` writes nothing. */
  outFile?: string;
  /** Who deploys (and administers AuditAnchor): any signer with a provider, on any chain. Default: Hardhat's first account. */
  signer?: Signer;
}

/** Deploys DataUseRegistry and AuditAnchor and describes them as `deployments/<chainId>.json` does. */
export async function deployLedger(hre: HardhatRuntimeEnvironment, options: DeployOptions = {}): Promise<Deployment> {
  const { ethers } = hre;
  const deployer = options.signer ?? (await ethers.getSigners())[0];
  const deployerAddress = await deployer.getAddress();
  const { chainId } = await deployer.provider!.getNetwork();

  const registry = await ethers.deployContract("DataUseRegistry", deployer);
  const registryReceipt = (await registry.deploymentTransaction()!.wait())!;
  const anchor = await ethers.deployContract("AuditAnchor", [deployerAddress], deployer);
  const anchorReceipt = (await anchor.deploymentTransaction()!.wait())!;
  const role = await anchor.ANCHORER_ROLE();
  for (const anchorer of options.anchorers ?? [deployerAddress]) {
    await (await anchor.grantRole(role, anchorer)).wait();
  }

  const deployment: Deployment = {
    chainId: Number(chainId),
    deployedAt: new Date().toISOString(),
    deployer: deployerAddress,
    contracts: {
      DataUseRegistry: {
        address: await registry.getAddress(),
        blockNumber: registryReceipt.blockNumber,
        transactionHash: registryReceipt.hash,
        artifact: "artifacts/contracts/DataUseRegistry.sol/DataUseRegistry.json",
      },
      AuditAnchor: {
        address: await anchor.getAddress(),
        blockNumber: anchorReceipt.blockNumber,
        transactionHash: anchorReceipt.hash,
        artifact: "artifacts/contracts/AuditAnchor.sol/AuditAnchor.json",
      },
    },
  };
  if (options.outFile) {
    mkdirSync(dirname(options.outFile), { recursive: true });
    writeFileSync(options.outFile, JSON.stringify(deployment, null, 2) + "\n");
  }
  return deployment;
}
