import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { Deployment } from "../../core/deployment";

export interface DeployOptions {
  /** Accounts given the anchoring role of AuditAnchor (the gateway's key). Default: the deployer. */
  anchorers?: string[];
  /** Where to write the deployment file; `undefined` writes nothing. */
  outFile?: string;
}

/** Deploys DataUseRegistry and AuditAnchor and describes them as `deployments/<chainId>.json` does. */
export async function deployLedger(hre: HardhatRuntimeEnvironment, options: DeployOptions = {}): Promise<Deployment> {
  const { ethers } = hre;
  const [deployer] = await ethers.getSigners();
  const { chainId } = await ethers.provider.getNetwork();

  const registry = await ethers.deployContract("DataUseRegistry", deployer);
  const registryReceipt = (await registry.deploymentTransaction()!.wait())!;
  const anchor = await ethers.deployContract("AuditAnchor", [deployer.address], deployer);
  const anchorReceipt = (await anchor.deploymentTransaction()!.wait())!;
  const role = await anchor.ANCHORER_ROLE();
  for (const anchorer of options.anchorers ?? [deployer.address]) {
    await (await anchor.grantRole(role, anchorer)).wait();
  }

  const deployment: Deployment = {
    chainId: Number(chainId),
    deployedAt: new Date().toISOString(),
    deployer: deployer.address,
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
