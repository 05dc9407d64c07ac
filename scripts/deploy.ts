import hre from "hardhat";
import { deployLedger } from "./lib/deploy";
import { deploymentPath } from "../core/deployment";

/**
 * `npx hardhat run scripts/deploy.ts --network <name>`: deploys both contracts and writes
 * deployments/<chainId>.json. ANCHORER_ADDRESSES (comma-separated) receive the anchoring role;
 * by default the deployer does.
 */
async function main(): Promise<void> {
  const { chainId } = await hre.ethers.provider.getNetwork();
  const anchorers = process.env.ANCHORER_ADDRESSES?.split(",").map((a) => a.trim()).filter(Boolean);
  const outFile = deploymentPath(process.cwd(), Number(chainId));
  const deployment = await deployLedger(hre, { anchorers, outFile });
  console.log(`DataUseRegistry ${deployment.contracts.DataUseRegistry.address} (block ${deployment.contracts.DataUseRegistry.blockNumber})`);
  console.log(`AuditAnchor     ${deployment.contracts.AuditAnchor.address} (block ${deployment.contracts.AuditAnchor.blockNumber})`);
  console.log(`wrote ${outFile}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
