import { expect } from "chai";
import { DEFAULT_KEY, VALIDITY_CASES, type Outcome } from "./validityCases";
import { coarse, deployValidityChain, endsOfLastRun, releaseValidityChain, runCase, type Answer, type IssuanceEndSeen, type ValidityChain } from "./validityHarness";

/** What each implementation should answer to a query, by the table. */
function expected(answer: Answer): Partial<Record<keyof Answer, unknown>> {
  const outcome: Outcome = answer.query.expect;
  if (answer.query.confirmations !== undefined) return { decide: coarse(outcome) };
  const active = answer.active.contract;
  return {
    contract: coarse(outcome),
    decide: coarse(outcome),
    sql: outcome,
    auditor: outcome,
    active: { contract: active, listGrants: active, activeGrantsOnCategory: active },
  };
}

function answered(answer: Answer): Partial<Record<keyof Answer, unknown>> {
  const wanted = expected(answer);
  return Object.fromEntries(Object.keys(wanted).map((k) => [k, answer[k as keyof Answer]]));
}

describe("grant validity: one table, four implementations", function () {
  let chain: ValidityChain;

  before(async function () {
    chain = await deployValidityChain();
  });

  after(async function () {
    await releaseValidityChain(chain);
  });

  for (const validityCase of VALIDITY_CASES) {
    it(`the contract, decide(), the index's SQL and the auditor agree: ${validityCase.name}`, async function () {
      const answers = await runCase(chain, validityCase, { scheduler: validityCase.ends !== undefined });
      expect(answers.length).to.equal(validityCase.queries.length);
      for (const answer of answers) {
        const { at, confirmations } = answer.query;
        const label = `query at ${at}${confirmations === undefined ? "" : ` with ${confirmations} confirmations`} of ${answer.query.subject}→${answer.query.grantee} ${answer.query.category}/${answer.query.purpose}`;
        expect(answered(answer), label).to.deep.equal(expected(answer));
        // A valid grant is always listed live: the listing of live grants narrows by SQL before it decides.
        if (answer.contract === "valid") expect(answer.active.contract, `${label}: valid but not live`).to.equal(true);
      }
      if (validityCase.ends) {
        const ends = await endsOfLastRun(chain, [DEFAULT_KEY]);
        const pairs = (list: IssuanceEndSeen[]) => list.map((e): [number, number] => [e.grantedAt, e.endedAt]);
        expect(pairs(ends.contract), "ends the contract showed").to.deep.equal(validityCase.ends);
        expect(pairs(ends.auditor), "ends the auditor requires orders for").to.deep.equal(validityCase.ends);
        expect(pairs(ends.scheduler), "ends the scheduler ordered").to.include.deep.members(validityCase.ends);
      }
    });
  }
});
