import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Signer } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { Deployment } from "../../core/deployment";
import { logOriginOf } from "../../core/logOrigin";

export interface DeployOptions {
  /** Accounts given the anchoring role of AuditAnchor (the gateway's key). Default: the deployer. */
  anchorers?: string[];
  /** Where to write the deployment file; `undefined` writes nothing. */
  outFile?: string;
  /** Who deploys (and administers AuditAnchor): any signer with a provider, on any chain. Default: Hardhat's first account. */
  signer?: Signer;
  /**
   * The gateway's checkpoint note key (0x and 32 bytes: `checkpointNoteKey(masterKey).publicKey`).
   * Given, the gateway's log is registered on AuditAnchor, so the gateway can anchor it.
   */
  noteKey?: string;
  /** The registered log's staleness window (MAX_HEAD_AGE_SECONDS may not exceed it). Default 30. */
  maxHeadAgeSeconds?: number;
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
  if (options.noteKey !== undefined) {
    await (await anchor.registerLog(logOriginOf(deployment), options.noteKey, options.maxHeadAgeSeconds ?? 30)).wait();
  }
  if (options.outFile) {
    mkdirSync(dirname(options.outFile), { recursive: true });
    writeFileSync(options.outFile, JSON.stringify(deployment, null, 2) + "\n");
  }
  return deployment;
}
