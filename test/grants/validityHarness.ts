import hre from "hardhat";
import pino from "pino";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { ContractTransactionResponse } from "ethers";
import { DataUseRegistry__factory, type DataUseRegistry } from "../../typechain-types";
import { deployLedger } from "../../scripts/lib/deploy";
import type { Deployment } from "../../core/deployment";
import { grantIdOf, labelToId, loadFastKeccak } from "../../core/ids";
import { DENY_REASON_CODES, type DenyCode } from "../../core/errorCodes";
import { SqliteStore } from "../../server/store/sqlite";
import { DeletionStore } from "../../server/deletion/deletionStore";
import { Indexer } from "../../server/chain/indexer";
import { DeletionService } from "../../server/deletion/deletionService";
import { Keyring } from "../../server/crypto/keyring";
import { decide } from "../../server/grants/decision";
import { issuanceEnds } from "../../auditor/grantEnds";
import { grantStateAt, grantTimelines, readChainHistory, type GrantState, type GrantTimeline } from "../../auditor/history";
import type { ChainEvent } from "../../server/store/types";
import { DEFAULT_KEY, type Action, type Category, type GrantKey, type Grantee, type Outcome, type Purpose, type Query, type Subject, type ValidityCase } from "./validityCases";

const CATEGORY_LABELS: Record<Category, string> = { email: "contact.email", phone: "contact.phone" };
const PURPOSE_LABELS: Record<Purpose, string> = { ads: "dpv:Marketing", service: "dpv:ServiceProvision" };
/** Every call gets this much gas: estimating would refuse the calls a case expects to revert. */
const GAS_LIMIT = 500_000;

/** The ledger deployed once on the in-process chain; each case runs from a snapshot taken after it. */
export interface ValidityChain {
  deployment: Deployment;
  registry: DataUseRegistry;
  subjects: Record<Subject, HardhatEthersSigner>;
  grantees: Record<Grantee, string>;
  snapshot: string;
  initial: string;
  /** The latest case run: where its seconds are on the chain, and its grants' timelines. */
  lastRun?: { start: number; firstBlock: number; lastSecond: number; timelines: Map<string, GrantTimeline>; orders: IssuanceEndSeen[] };
}

/**
 * Takes the chain back to before the ledger was deployed for these cases, and its clock back to the
 * wall clock's: the cases stamp blocks ahead of it, and Hardhat would go on stamping later blocks
 * as far ahead, which tests that follow take for a gateway whose clock runs behind the chain's.
 */
export async function releaseValidityChain(chain: ValidityChain): Promise<void> {
  await hre.network.provider.send("evm_revert", [chain.initial]);
  const latest = (await hre.ethers.provider.getBlock("latest"))!.timestamp;
  await hre.network.provider.send("evm_mine", [Math.max(latest + 1, Math.floor(Date.now() / 1000))]);
}

export async function deployValidityChain(): Promise<ValidityChain> {
  await loadFastKeccak();
  const initial = (await hre.network.provider.send("evm_snapshot")) as string;
  const signers = await hre.ethers.getSigners();
  const deployment = await deployLedger(hre);
  const registry = DataUseRegistry__factory.connect(deployment.contracts.DataUseRegistry.address, hre.ethers.provider);
  const snapshot = (await hre.network.provider.send("evm_snapshot")) as string;
  return {
    deployment,
    registry,
    subjects: { alice: signers[1], bob: signers[2] },
    grantees: { svc: signers[3].address, other: signers[4].address },
    snapshot,
    initial,
  };
}

/** The gateway's Indexer, reading the registry into `store`. */
function indexerInto(chain: ValidityChain, store: SqliteStore): Indexer {
  const registry = chain.deployment.contracts.DataUseRegistry;
  return new Indexer(
    hre.ethers.provider,
    store,
    {
      registryAddress: registry.address,
      fromBlock: registry.blockNumber,
      deploymentId: registry.transactionHash,
      pageBlocks: 5000,
      pollIntervalMs: 1000,
      maxLagBlocks: 0,
      maxAgeMs: 3_600_000,
      confirmations: 0,
    },
    pino({ level: "silent" }),
  );
}

/** A grant's addresses and ids, lower-case, as the index keeps them. */
function grantIds(chain: ValidityChain, key: GrantKey) {
  const subject = chain.subjects[key.subject].address.toLowerCase();
  const grantee = chain.grantees[key.grantee].toLowerCase();
  const category = labelToId(CATEGORY_LABELS[key.category]).toLowerCase();
  const purpose = labelToId(PURPOSE_LABELS[key.purpose]).toLowerCase();
  return { subject, grantee, category, purpose, grantId: grantIdOf(subject, grantee, category, purpose).toLowerCase() };
}

/** What each implementation answered to one query. `revoked` from the contract and decide() stands for either revocation. */
export interface Answer {
  query: Query & GrantKey;
  contract: Outcome;
  decide: Outcome;
  sql: Outcome;
  auditor: Outcome;
  /** The grant's own record is live (not revoked, not cut off, not past its own expiry): the contract's `_isActive`. */
  active: { contract: boolean; listGrants: boolean; activeGrantsOnCategory: boolean };
  /** The head block the query was asked at. */
  headBlock: number;
  /** The auditor's replay at the query's instant over the events `counts` admits (null: never issued). */
  replay(counts: (e: ChainEvent) => boolean): GrantState | null;
}

const CONTRACT_OUTCOMES: Outcome[] = ["valid", "no-grant", "expired", "revoked", "data-expired"];
const DECIDE_OUTCOMES: Record<DenyCode, Outcome> = { NO_GRANT: "no-grant", GRANT_REVOKED: "revoked", GRANT_EXPIRED: "expired", DATA_EXPIRED: "data-expired" };
// The contract's enum and the gateway's codes are one table (core/errorCodes): these must line up.
if (DENY_REASON_CODES.some((code, i) => (code === null ? "valid" : DECIDE_OUTCOMES[code]) !== CONTRACT_OUTCOMES[i])) {
  throw new Error("DENY_REASON_CODES no longer lines up with DataUseRegistry.DenyReason");
}

/** An outcome as the contract and decide() tell it: one `revoked` for both revocations. */
export const coarse = (outcome: Outcome): Outcome => (outcome === "revoked-all" ? "revoked" : outcome);

/**
 * Runs one case from the snapshot: mines its actions one block a second, and asks each query of
 * the contract (eth_call at the query's block), of decide() over a SqliteStore the real Indexer
 * filled from the chain, of the SQL that lists live grants and finds ended ones, and of the
 * auditor's replay of the chain's events. Throws when an action's outcome is not the one the case
 * states (mined, or reverted).
 */
export async function runCase(chain: ValidityChain, validityCase: ValidityCase, options: { scheduler?: boolean } = {}): Promise<Answer[]> {
  const { network } = hre;
  await network.provider.send("evm_revert", [chain.snapshot]);
  chain.snapshot = (await network.provider.send("evm_snapshot")) as string;

  const store = new SqliteStore(":memory:");
  const deletions = new DeletionStore(store.db);
  const indexer = indexerInto(chain, store);

  const latest = (await hre.ethers.provider.getBlock("latest"))!;
  const start = latest.timestamp + 10;
  // The deletion scheduler, run at every second's block on the chain's time, over an index of its
  // own (it marks the ends it handled, which the SQL asked above must not see): the orders it sends
  // are the gateway's ends.
  const scheduled = options.scheduler ? new SqliteStore(":memory:") : null;
  const scheduledIndex = scheduled ? indexerInto(chain, scheduled) : null;
  const scheduler =
    scheduled && scheduledIndex
      ? new DeletionService({
          store: scheduled,
          keyring: new Keyring(Buffer.alloc(32, 7), scheduled),
          indexer: { freshView: () => scheduledIndex.lastView()!, lastView: () => scheduledIndex.lastView() },
          logger: pino({ level: "silent" }),
          intervalMs: 1000,
          maxClockSkewSeconds: 3600,
          wallClock: () => (scheduledIndex.lastView()?.headTime ?? 0) * 1000,
        })
      : null;
  const mineAt = async (second: number) => void (await network.provider.send("evm_mine", [start + second]));
  const ids = (key: GrantKey) => grantIds(chain, key);
  const keyOf = (partial: Partial<GrantKey>): GrantKey => ({ ...DEFAULT_KEY, ...partial });

  const send = (action: Action): Promise<ContractTransactionResponse> => {
    const key = keyOf(action);
    const { grantee, category, purpose, grantId } = ids(key);
    const registry = chain.registry.connect(chain.subjects[key.subject]);
    const options = { gasLimit: GAS_LIMIT };
    switch (action.do) {
      case "grant":
        return registry.grant(grantee, category, purpose, start + action.expiresAt, options);
      case "changeExpiry":
        return registry.changeExpiry(grantId, start + action.expiresAt, options);
      case "revoke":
        return registry.revoke(grantId, options);
      case "revokeAll":
        return registry.revokeAll(grantee, options);
      case "setDataExpiry":
        return registry.setDataExpiry(category, action.expiresAt === 0 ? 0 : start + action.expiresAt, options);
    }
  };

  const answers: Answer[] = [];
  const seconds = [...new Set([...validityCase.actions.map((a) => a.at), ...validityCase.queries.map((q) => q.at)])].sort((a, b) => a - b);
  // One block a second from the second before the case starts: confirmations count seconds.
  await mineAt(-1);
  const firstBlock = (await hre.ethers.provider.getBlockNumber()) + 1;
  let mined = -1;
  // One evm_mine a second, empty or not: eth_call at some blocks hardhat_mine made answered as if no contract were deployed.
  for (let second = 0; second <= seconds[seconds.length - 1]; second++) {
    const actions = validityCase.actions.filter((a) => a.at === second);
    const sent: ContractTransactionResponse[] = [];
    if (actions.length > 0) {
      await network.provider.send("evm_setAutomine", [false]);
      try {
        for (const action of actions) sent.push(await send(action));
        await mineAt(second);
      } finally {
        await network.provider.send("evm_setAutomine", [true]);
      }
    } else {
      await mineAt(second);
    }
    mined = second;
    const block = (await hre.ethers.provider.getBlock("latest"))!;
    if (block.timestamp !== start + second) throw new Error(`second ${second} was mined at ${block.timestamp - start}`);
    for (const [i, tx] of sent.entries()) {
      const receipt = (await hre.ethers.provider.getTransactionReceipt(tx.hash))!;
      const action = actions[i];
      if (receipt.blockNumber !== block.number || receipt.index !== i) throw new Error(`${action.do} at ${second} was not mined in order in its second's block`);
      if (!validityCase.actionsMayRevert && (receipt.status === 0) !== (action.reverts === true)) {
        throw new Error(`${action.do} at ${second} ${receipt.status === 0 ? "reverted" : "was mined"}, and the case says it ${action.reverts ? "reverts" : "does not"}`);
      }
    }

    const queries = validityCase.queries.filter((q) => q.at === second);
    if (scheduler) {
      await scheduledIndex!.syncOnce();
      scheduler.runDue();
    }
    if (queries.length === 0) continue;
    await indexer.syncOnce();
    // Its own freshness rules (wall clock against head time) are not what these cases hold.
    const view = indexer.lastView()!;
    if (view.headNumber !== block.number) throw new Error(`the indexer read head ${view.headNumber}, not ${block.number}`);
    const now = start + second;
    const ended = deletions.endedGrants(now, 10_000);
    for (const query of queries) {
      const key = keyOf(query);
      const id = ids(key);
      const [valid, , reason] = await chain.registry.check(id.subject, id.grantee, id.category, id.purpose, { blockTag: block.number });
      if (valid !== (reason === 0n)) throw new Error(`check() answered valid ${valid} with reason ${reason}`);
      const record = await chain.registry.getGrant(id.subject, id.grantId, { blockTag: block.number });
      const cutoff = await chain.registry.allRevokedAt(id.subject, id.grantee, { blockTag: block.number });
      const decision = decide(store, id, view, query.confirmations ?? 0, now * 1000);
      const endedHere = ended.find((g) => g.subject === id.subject && g.grantId === id.grantId);
      const listed = store.listGrants({ subject: id.subject, grantee: id.grantee, category: id.category, purpose: id.purpose, activeAt: now, limit: 10, offset: 0 });
      answers.push({
        query: { ...query, ...key },
        contract: CONTRACT_OUTCOMES[Number(reason)],
        decide: decision.allowed ? "valid" : DECIDE_OUTCOMES[decision.reason!],
        sql: store.getGrant(id.subject, id.grantId) === null ? "no-grant" : (endedHere?.reason as Outcome | undefined) ?? "valid",
        auditor: "valid", // filled below, from the whole history
        headBlock: block.number,
        replay: () => null, // likewise
        active: {
          contract: record.grantee !== "0x0000000000000000000000000000000000000000" && record.expiresAt > BigInt(now) && record.grantedAt > cutoff,
          listGrants: listed.some((g) => g.grantId === id.grantId),
          activeGrantsOnCategory: deletions.activeGrantsOnCategory(id.subject, id.category, now).some((g) => g.grantId === id.grantId),
        },
      });
    }
  }

  const history = await readChainHistory(hre.ethers.provider, chain.deployment);
  const timelines = new Map(grantTimelines(history.events).map((t) => [t.grantId, t]));
  for (const answer of answers) {
    const timeline = timelines.get(ids(answer.query).grantId);
    const time = start + answer.query.at;
    answer.replay = (counts) => (timeline ? grantStateAt(timeline, time, counts) : null);
    const state = answer.replay((e) => e.blockTime <= time);
    answer.auditor = !state?.issued ? "no-grant" : state.valid ? "valid" : state.reason!;
  }
  const orders = (scheduler?.deletions.listOrders({ limit: 100_000, offset: 0 }) ?? []).map((o) => ({ grantId: o.grantId, grantedAt: o.grantedAt, endedAt: o.endedAt }));
  store.close();
  scheduled?.close();
  chain.lastRun = { start, firstBlock, lastSecond: mined, timelines, orders };
  return answers;
}

/** One end of a stretch of validity: the first second at which an issuance valid the second before was not. */
export interface IssuanceEndSeen {
  grantId: string;
  grantedAt: number;
  endedAt: number;
}

/** The ends the contract's check() showed over the latest run, asked at every second's block. */
export async function contractEnds(chain: ValidityChain, keys: GrantKey[]): Promise<IssuanceEndSeen[]> {
  const run = chain.lastRun!;
  const ends: IssuanceEndSeen[] = [];
  for (const key of keys) {
    const id = grantIds(chain, key);
    let before: { valid: boolean; grantedAt: number } = { valid: false, grantedAt: 0 };
    for (let second = 0; second <= run.lastSecond; second++) {
      const blockTag = run.firstBlock + second;
      const [valid] = await chain.registry.check(id.subject, id.grantee, id.category, id.purpose, { blockTag });
      const { grantedAt } = await chain.registry.getGrant(id.subject, id.grantId, { blockTag });
      const now = { valid, grantedAt: Number(grantedAt) };
      if (before.valid && (!now.valid || now.grantedAt !== before.grantedAt)) ends.push({ grantId: id.grantId, grantedAt: before.grantedAt, endedAt: run.start + second });
      before = now;
    }
  }
  return ends;
}

/** The ends of validity of the latest run's grants of `keys`, in seconds after its start, as each side sees them. */
export interface RunEnds {
  /** Read from check() at every second's block. */
  contract: IssuanceEndSeen[];
  /** The auditor's replay of the chain's events (issuanceEnds): the deletion orders it requires. */
  auditor: IssuanceEndSeen[];
  /** The deletion orders the gateway's scheduler sent (runCase with `scheduler`). */
  scheduler: IssuanceEndSeen[];
}

export async function endsOfLastRun(chain: ValidityChain, keys: GrantKey[]): Promise<RunEnds> {
  const run = chain.lastRun!;
  const grantIdsOfKeys = new Set(keys.map((k) => grantIds(chain, k).grantId));
  const relative = (ends: IssuanceEndSeen[]) =>
    ends
      .filter((e) => grantIdsOfKeys.has(e.grantId))
      .map((e) => ({ grantId: e.grantId, grantedAt: e.grantedAt - run.start, endedAt: e.endedAt - run.start }))
      .sort((a, b) => a.grantId.localeCompare(b.grantId) || a.grantedAt - b.grantedAt || a.endedAt - b.endedAt);
  return {
    contract: relative(await contractEnds(chain, keys)),
    auditor: relative([...run.timelines.values()].flatMap((t) => issuanceEnds(t, run.start + run.lastSecond))),
    scheduler: relative(run.orders),
  };
}
