import hre from "hardhat";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GAS_BUDGETS, GAS_REFERENCES, measureGas } from "./lib/measureGas";

/** `npm run gas`: prints each operation's gas against its budget and writes bench/gas.json. */
async function main(): Promise<void> {
  const figures = await measureGas(hre);
  const rows = (Object.keys(GAS_BUDGETS) as (keyof typeof GAS_BUDGETS)[]).map((name) => ({
    operation: name,
    gasUsed: figures[name],
    budget: GAS_BUDGETS[name],
    ratio: Number((figures[name] / GAS_BUDGETS[name]).toFixed(3)),
    within: figures[name] <= GAS_BUDGETS[name] ? "yes" : "NO",
    reference: GAS_REFERENCES[name],
  }));
  console.table(rows);
  const outDir = join(__dirname, "..", "bench");
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "gas.json"), JSON.stringify(figures, null, 2) + "\n");
  console.log(`wrote ${join("bench", "gas.json")}`);
  if (rows.some((row) => row.within !== "yes")) process.exitCode = 1;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
