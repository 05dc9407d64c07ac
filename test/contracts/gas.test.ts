import { expect } from "chai";
import hre from "hardhat";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { GAS_BUDGETS, measureGas, type GasFigures } from "../../scripts/lib/measureGas";

const SNAPSHOT_PATH = join(__dirname, "..", "..", "bench", "gas.json");
const UPDATE_HINT = "run `npm run gas` to update the snapshot bench/gas.json";

type Operation = keyof typeof GAS_BUDGETS;
const OPERATIONS = Object.keys(GAS_BUDGETS) as Operation[];

/**
 * measureGas puts the block time (expiry, deadline) and, for the relayed grant, a fresh signature
 * into these transactions' calldata. A byte of them that happens to be zero costs 4 gas instead of
 * 16, so from one run to the next these figures may move by a few multiples of 12 gas with no change
 * to the contracts (about one run in five for relayedGrant). Only that drift is tolerated.
 */
const CALLDATA_DRIFT: Record<Operation, number> = {
  newGrant: 3,
  changeExpiry: 3,
  revoke: 0,
  batch10PerGrant: 3,
  relayedGrant: 3,
  revokeAll: 0,
  anchor: 0,
};
const ZERO_BYTE_SAVING = 16 - 4;

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
      const measured = figures[operation];
      const recorded = snapshot[operation];
      const message = `${operation}: measured ${measured}, snapshot ${String(recorded)}; ${UPDATE_HINT}`;
      expect(recorded, message).to.be.a("number");
      const diff = measured - (recorded as number);
      if (CALLDATA_DRIFT[operation] === 0 || diff % ZERO_BYTE_SAVING !== 0) {
        expect(measured, message).to.equal(recorded);
      } else {
        expect(Math.abs(diff), message).to.be.at.most(CALLDATA_DRIFT[operation] * ZERO_BYTE_SAVING);
      }
    });
  }
});
