import { buildUi } from "./lib/buildUi";

// Run through `hardhat run` so that the contracts, and with them typechain-types, are compiled first.
buildUi()
  .then((outDir) => console.log(`wallet page built into ${outDir}`))
  .catch((error) => {
    console.error(error);
    process.exit(1);
  });
