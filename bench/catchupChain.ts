import hre from "hardhat";
import { DataUseRegistry__factory } from "../typechain-types";
import { labelToId } from "../core/ids";
import { deployLedger } from "../scripts/lib/deploy";

/**
 * The chain the catch-up bench indexes: both contracts deployed (written to DEPLOYMENT_OUT), then
 * CATCHUP_EVENTS grants issued 250 to a transaction, one transaction a block.
 */
async function main(): Promise<void> {
  const [, subject, service] = await hre.ethers.getSigners();
  const deployment = await deployLedger(hre, { outFile: process.env.DEPLOYMENT_OUT });
  const registry = DataUseRegistry__factory.connect(deployment.contracts.DataUseRegistry.address, subject);
  const events = Number(process.env.CATCHUP_EVENTS);
  const perTx = 250;
  const expiresAt = (await hre.ethers.provider.getBlock("latest"))!.timestamp + 86_400;
  const purpose = labelToId("dpv:ServiceProvision");
  for (let i = 0; i < events / perTx; i++) {
    const requests = Array.from({ length: perTx }, (_, j) => ({ grantee: service.address, category: labelToId(`catchup.${i}.${j}`), purpose, expiresAt }));
    await (await registry.grantBatch(requests, { gasLimit: 15_000_000 })).wait();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
