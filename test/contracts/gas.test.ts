import { expect } from "chai";
import hre from "hardhat";
import { mine, takeSnapshot, time } from "@nomicfoundation/hardhat-network-helpers";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { GAS_BUDGETS, measureGas, type GasFigures } from "../../scripts/lib/measureGas";

const SNAPSHOT_PATH = join(__dirname, "..", "..", "bench", "gas.json");
const UPDATE_HINT = "run `npm run gas` to update the snapshot bench/gas.json";

type Operation = keyof typeof GAS_BUDGETS;
const OPERATIONS = Object.keys(GAS_BUDGETS) as Operation[];

/**
 * `npm run coverage` (solidity-coverage) runs these tests on instrumented bytecode, compiled with the
 * optimizer at its minimum: its gas says nothing about the real contracts. There, only that every
 * operation is still measured is checked; budgets and snapshot are checked by `npm test`.
 */
const UNDER_COVERAGE = (hre as unknown as { __SOLIDITY_COVERAGE_RUNNING?: boolean }).__SOLIDITY_COVERAGE_RUNNING === true;

describe("gas", function () {
  let figures: GasFigures;
  let snapshot: Record<string, unknown>;

  before(async function () {
    figures = await measureGas(hre);
    snapshot = JSON.parse(readFileSync(SNAPSHOT_PATH, "utf8"));
  });

  if (UNDER_COVERAGE) {
    it("measures every budgeted operation (instrumented bytecode: budgets and snapshot not compared)", function () {
      expect(Object.keys(figures).sort()).to.deep.equal([...OPERATIONS].sort());
      for (const operation of OPERATIONS) expect(figures[operation], operation).to.be.greaterThan(21_000);
    });
    return;
  }

  it("measures every budgeted operation", function () {
    expect(Object.keys(figures).sort()).to.deep.equal([...OPERATIONS].sort());
  });

  it("measures the same figures at any chain time, and leaves the chain's clock as it was", async function () {
    const untouched = await takeSnapshot();
    try {
      await time.increase(12_345);
      await mine(3);
      const before = await time.latest();
      expect(await measureGas(hre)).to.deep.equal(figures);
      // The measurement's own clock (in 2098) is gone: the next block follows the one before it.
      expect(await time.latest()).to.equal(before);
      await mine();
      expect(await time.latest()).to.be.within(before + 1, before + 60);
    } finally {
      await untouched.restore();
    }
  });

  for (const operation of OPERATIONS) {
    it(`${operation} is within its budget of ${GAS_BUDGETS[operation]}`, function () {
      expect(figures[operation]).to.be.a("number");
      expect(figures[operation], `${operation} uses ${figures[operation]} gas`).to.be.at.most(GAS_BUDGETS[operation]);
    });
  }

  it("the snapshot bench/gas.json lists exactly the budgeted operations", function () {
    expect(Object.keys(snapshot).sort(), UPDATE_HINT).to.deep.equal([...OPERATIONS].sort());
  });

  for (const operation of OPERATIONS) {
    it(`${operation} equals the snapshot bench/gas.json`, function () {
      const [measured, recorded] = [figures[operation], snapshot[operation]];
      expect(measured, `${operation}: measured ${measured}, snapshot ${String(recorded)}; ${UPDATE_HINT}`).to.equal(recorded);
    });
  }
});
