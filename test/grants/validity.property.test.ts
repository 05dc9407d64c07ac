import { expect } from "chai";
import fc from "fast-check";
import type { Action, Category, GrantKey, Grantee, Purpose, Query, Subject, ValidityCase } from "./validityCases";
import { coarse, deployValidityChain, endsOfLastRun, releaseValidityChain, runCase, type IssuanceEndSeen, type Answer, type ValidityChain } from "./validityHarness";

const SUBJECTS: Subject[] = ["alice", "bob"];
const GRANTEES: Grantee[] = ["svc", "other"];
const CATEGORIES: Category[] = ["email", "phone"];
const PURPOSES: Purpose[] = ["ads", "service"];
const ALL_KEYS: GrantKey[] = SUBJECTS.flatMap((subject) =>
  GRANTEES.flatMap((grantee) => CATEGORIES.flatMap((category) => PURPOSES.map((purpose) => ({ subject, grantee, category, purpose })))),
);

/** Mostly one subject, grantee, category and purpose, so that actions meet on the same grants. */
const mostly = <T>(usual: T, rare: T) => fc.oneof({ weight: 4, arbitrary: fc.constant(usual) }, { weight: 1, arbitrary: fc.constant(rare) });
const key = fc.record({
  subject: mostly<Subject>("alice", "bob"),
  grantee: mostly<Grantee>("svc", "other"),
  category: mostly<Category>("email", "phone"),
  purpose: mostly<Purpose>("ads", "service"),
});
/** Seconds to wait before an action: often none (the same block), sometimes past every expiry in play. */
const gap = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 5, arbitrary: fc.integer({ min: 1, max: 6 }) }, { weight: 1, arbitrary: fc.integer({ min: 7, max: 20 }) });
/** An expiry this many seconds after the action: short, so that expiries fall inside the run, often within the confirmations. */
const ahead = fc.oneof({ weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 15 }) });

type Step = { gap: number } & (
  | { do: "grant" | "changeExpiry"; key: GrantKey; ahead: number }
  | { do: "revoke"; key: GrantKey }
  | { do: "revokeAll"; subject: Subject; grantee: Grantee }
  | { do: "setDataExpiry"; subject: Subject; category: Category; ahead: number | 0 }
);

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ gap, do: fc.constant("grant" as const), key, ahead }) },
  { weight: 3, arbitrary: fc.record({ gap, do: fc.constant("changeExpiry" as const), key, ahead }) },
  { weight: 1, arbitrary: fc.record({ gap, do: fc.constant("revoke" as const), key }) },
  { weight: 1, arbitrary: fc.record({ gap, do: fc.constant("revokeAll" as const), subject: key.map((k) => k.subject), grantee: key.map((k) => k.grantee) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      gap,
      do: fc.constant("setDataExpiry" as const),
      subject: key.map((k) => k.subject),
      category: key.map((k) => k.category),
      ahead: fc.oneof(fc.constant(0), ahead),
    }),
  },
);

/** How long after an action to ask: often within the confirmations of its block, else up to past its expiries. */
const wait = fc.oneof({ weight: 2, arbitrary: fc.integer({ min: 0, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 16 }) });

/** A run: actions at the seconds their gaps add up to, and query instants a few seconds after one of them. */
const scenario = fc.record({
  steps: fc.array(step, { minLength: 1, maxLength: 12 }),
  instants: fc.array(fc.record({ after: fc.nat(), wait, confirmations: fc.integer({ min: 1, max: 3 }) }), {
    minLength: 1,
    maxLength: 6,
  }),
});

const sameKey = (a: GrantKey, b: GrantKey) => a.subject === b.subject && a.grantee === b.grantee && a.category === b.category && a.purpose === b.purpose;

function toCase({ steps, instants }: { steps: Step[]; instants: { after: number; wait: number; confirmations: number }[] }): ValidityCase {
  let at = 0;
  const actions: Action[] = steps.map((s) => {
    at += s.gap;
    switch (s.do) {
      case "grant":
      case "changeExpiry":
        return { at, do: s.do, ...s.key, expiresAt: at + s.ahead };
      case "revoke":
        return { at, do: "revoke", ...s.key };
      case "revokeAll":
        return { at, do: "revokeAll", subject: s.subject, grantee: s.grantee };
      case "setDataExpiry":
        return { at, do: "setDataExpiry", subject: s.subject, category: s.category, expiresAt: s.ahead === 0 ? 0 : at + s.ahead };
    }
  });
  // Instants up to 16 seconds after an action: where that action's expiries (1 to 15 seconds ahead) fall.
  const seconds = new Map(instants.map((i) => [actions[i.after % actions.length].at + i.wait, i.confirmations]));
  // Each instant asks about every grant the run issued or tried to, and one never issued, with no
  // confirmations and with some; `expect` is unused here.
  const granted = ALL_KEYS.filter((k) => steps.some((s) => s.do === "grant" && sameKey(s.key, k)));
  const never = ALL_KEYS.find((k) => !granted.includes(k))!;
  const queries: Query[] = [...seconds].flatMap(([second, confirmations]) =>
    [...granted, never].flatMap((k) => [
      { at: second, ...k, expect: "valid" as const },
      { at: second, ...k, confirmations, expect: "valid" as const },
    ]),
  );
  return { name: "generated", actions, queries, actionsMayRevert: true };
}

/**
 * What decide() may answer with `confirmations`: valid only where the chain as of the confirmed
 * block and the chain as of the head both hold the grant valid, under the same issuance. Changes not
 * yet confirmed count only when they end access sooner.
 */
function allowedWithConfirmations(a: Answer, confirmations: number): boolean {
  const latest = a.replay((e) => e.blockNumber <= a.headBlock);
  const confirmed = a.replay((e) => e.blockNumber <= a.headBlock - confirmations);
  return latest?.valid === true && confirmed?.valid === true && confirmed.grantedAt === latest.grantedAt;
}

/** Where the implementations disagree on one answer, or null. */
function disagreement(a: Answer): string | null {
  const { confirmations } = a.query;
  if (confirmations !== undefined) {
    const allowed = allowedWithConfirmations(a, confirmations);
    return (a.decide === "valid") === allowed ? null : `decide() with ${confirmations} confirmations says ${a.decide}; the confirmed and latest chain say ${allowed ? "valid" : "not valid"}`;
  }
  const coarseAnswers = { contract: a.contract, decide: a.decide, sql: coarse(a.sql), auditor: coarse(a.auditor) };
  if (new Set(Object.values(coarseAnswers)).size !== 1) return `answers differ: ${JSON.stringify(coarseAnswers)}`;
  if (a.sql !== a.auditor) return `the SQL says ${a.sql} and the auditor ${a.auditor}`;
  if (a.active.listGrants !== a.active.contract || a.active.activeGrantsOnCategory !== a.active.contract) return `live record differs: ${JSON.stringify(a.active)}`;
  if (a.contract === "valid" && !a.active.contract) return "valid, but its record is not live";
  return null;
}

const endKey = (e: IssuanceEndSeen) => `${e.grantId.slice(0, 10)} issued at ${e.grantedAt} ended at ${e.endedAt}`;

describe("grant validity: random actions and time jumps on the chain", function () {
  let chain: ValidityChain;

  before(async function () {
    chain = await deployValidityChain();
  });

  after(async function () {
    await releaseValidityChain(chain);
  });

  it("the contract's check, decide() and the auditor's replay (and the index's SQL) agree at every instant; with confirmations, decide() allows only what the confirmed and the latest chain both allow", async function () {
    let queriesAnswered = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async (input) => {
        const validityCase = toCase(input);
        const answers = await runCase(chain, validityCase);
        expect(answers.length).to.equal(validityCase.queries.length);
        queriesAnswered += answers.length;
        for (const answer of answers) {
          const problem = disagreement(answer);
          if (problem !== null) {
            const q = answer.query;
            throw new Error(`at ${q.at}${q.confirmations ? ` with ${q.confirmations} confirmations` : ""}, ${q.subject}→${q.grantee} ${q.category}/${q.purpose}: ${problem}; actions ${JSON.stringify(validityCase.actions)}`);
          }
        }
      }),
      { seed: Number(process.env.SEED ?? 0x16_2026), numRuns: Number(process.env.RUNS ?? 100), endOnFailure: false },
    );
    // Every run asks at least one key at one instant.
    expect(queriesAnswered).to.be.at.least(100);
  });
  it("every end of validity the contract shows, the auditor requires a deletion order for and the gateway's scheduler orders", async function () {
    await fc.assert(
      fc.asyncProperty(scenario, async (input) => {
        const validityCase = toCase(input);
        await runCase(chain, validityCase, { scheduler: true });
        const keys = ALL_KEYS.filter((k) => validityCase.queries.some((q) => sameKey(q as GrantKey, k)));
        const ends = await endsOfLastRun(chain, keys);
        const [shown, required, ordered] = [ends.contract, ends.auditor, ends.scheduler].map((list) => new Set(list.map(endKey)));
        const context = `actions ${JSON.stringify(validityCase.actions)}`;
        expect([...shown].filter((e) => !required.has(e)), `ends the auditor does not require; ${context}`).to.deep.equal([]);
        expect([...required].filter((e) => !shown.has(e)), `ends required the contract never showed; ${context}`).to.deep.equal([]);
        expect([...required].filter((e) => !ordered.has(e)), `ends required and not ordered; ${context}`).to.deep.equal([]);
      }),
      { seed: Number(process.env.SEED ?? 0x16_2026), numRuns: Number(process.env.RUNS ?? 30), endOnFailure: false },
    );
  });
});
