import hre from "hardhat";
import { deployLedger } from "./lib/deploy";
import { deploymentPath } from "../core/deployment";
import { logOriginOf } from "../core/logOrigin";

/**
 * `npx hardhat run scripts/deploy.ts --network <name>`: deploys both contracts and writes
 * deployments/<chainId>.json. ANCHORER_ADDRESSES (comma-separated) receive the anchoring role;
 * by default the deployer does. LOG_NOTE_KEY (the gateway's checkpoint note key, which it logs when
 * it refuses to anchor an unregistered log) registers its log, with MAX_HEAD_AGE_SECONDS (default 30)
 * as the log's staleness window.
 */
async function main(): Promise<void> {
  const { chainId } = await hre.ethers.provider.getNetwork();
  const anchorers = process.env.ANCHORER_ADDRESSES?.split(",").map((a) => a.trim()).filter(Boolean);
  const outFile = deploymentPath(process.cwd(), Number(chainId));
  const noteKey = process.env.LOG_NOTE_KEY?.trim() || undefined;
  const maxHeadAgeSeconds = process.env.MAX_HEAD_AGE_SECONDS ? Number(process.env.MAX_HEAD_AGE_SECONDS) : undefined;
  const deployment = await deployLedger(hre, { anchorers, outFile, noteKey, maxHeadAgeSeconds });
  console.log(`DataUseRegistry ${deployment.contracts.DataUseRegistry.address} (block ${deployment.contracts.DataUseRegistry.blockNumber})`);
  console.log(`AuditAnchor     ${deployment.contracts.AuditAnchor.address} (block ${deployment.contracts.AuditAnchor.blockNumber})`);
  if (noteKey) console.log(`log             ${logOriginOf(deployment)} registered`);
  console.log(`wrote ${outFile}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
