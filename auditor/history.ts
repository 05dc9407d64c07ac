import { Interface } from "ethers";
import { AuditAnchor__factory } from "../typechain-types";
import type { Deployment } from "../core/deployment";
import { decodeRegistryLog, registryInterface } from "../server/chain/registryEvents";
import { getBlockHeader, getLogs, type RpcProvider } from "../server/chain/logs";
import type { ChainEvent } from "../server/store/types";
import { grantValidity, type GrantEnd } from "../core/grantValidity";

/** One checkpoint as AuditAnchor recorded it: the only (size, root) pairs an auditor takes from the chain. */
export interface ChainAnchor {
  treeSize: number;
  rootHash: string;
  anchoredAt: number;
  blockNumber: number;
  txHash: string;
}

/** The log AuditAnchor registered (its LogRegistered event): the staleness window comes from here, never from the gateway. */
export interface ChainLogInfo {
  logId: string;
  origin: string;
  noteKey: string;
  maxHeadAgeSeconds: number;
  blockNumber: number;
}

/** A canonical block as the auditor read it. */
export interface ChainBlock {
  hash: string;
  timestamp: number;
}

export interface ChainHistory {
  /** Every registry event, in chain order, with its block's time. */
  events: ChainEvent[];
  anchors: ChainAnchor[];
  /** The chain head's time when read: "now" for deciding what should have happened by then. */
  headTime: number;
  headBlock: number;
  /** Whether an address holds AuditAnchor's anchoring role now. */
  isAnchorer(address: string): Promise<boolean>;
  /** The canonical chain's block at a height (null above the head), read once per height. */
  blockAt(blockNumber: number): Promise<ChainBlock | null>;
  /** The registered log, or null when none is: every release then fails closed. */
  log?: ChainLogInfo | null;
}

const anchorInterface = new Interface(AuditAnchor__factory.abi);

/** Reads the registry's and the anchor's complete history with paged eth_getLogs, from deployment to head. */
export async function readChainHistory(provider: RpcProvider, deployment: Deployment, pageBlocks = 5000): Promise<ChainHistory> {
  const head = await provider.getBlock("latest");
  if (!head) throw new Error("the RPC endpoint returned no latest block");
  const registry = deployment.contracts.DataUseRegistry;
  const anchor = deployment.contracts.AuditAnchor;
  const blockTimes = new Map<number, number>();
  const timeOf = async (blockNumber: number) => {
    let t = blockTimes.get(blockNumber);
    if (t === undefined) {
      t = (await provider.getBlock(blockNumber))!.timestamp;
      blockTimes.set(blockNumber, t);
    }
    return t;
  };

  const events: ChainEvent[] = [];
  const anchors: ChainAnchor[] = [];
  const from = Math.min(registry.blockNumber, anchor.blockNumber);
  for (let start = from; start <= head.number; start += pageBlocks) {
    const end = Math.min(head.number, start + pageBlocks - 1);
    const logs = await getLogs(provider, { address: [registry.address, anchor.address], fromBlock: start, toBlock: end });
    for (const log of logs) {
      const blockTime = await timeOf(log.blockNumber);
      if (log.address.toLowerCase() === registry.address.toLowerCase()) {
        if (registryInterface.getEvent(log.topics[0]) === null) continue;
        events.push(decodeRegistryLog(log, blockTime));
      } else {
        const parsed = anchorInterface.parseLog({ topics: [...log.topics], data: log.data });
        if (parsed?.name !== "CheckpointAnchored") continue;
        anchors.push({
          treeSize: Number(parsed.args.treeSize),
          rootHash: (parsed.args.rootHash as string).toLowerCase(),
          anchoredAt: Number(parsed.args.anchoredAt),
          blockNumber: log.blockNumber,
          txHash: log.transactionHash.toLowerCase(),
        });
      }
    }
  }
  const anchorContract = AuditAnchor__factory.connect(anchor.address, provider);
  const role = await anchorContract.ANCHORER_ROLE();
  const blocks = new Map<number, Promise<ChainBlock | null>>();
  const blockAt = (blockNumber: number) => {
    let block = blocks.get(blockNumber);
    if (!block) {
      block = blockNumber > head.number || blockNumber < 0 ? Promise.resolve(null) : getBlockHeader(provider, blockNumber).then((b) => ({ hash: b.hash.toLowerCase(), timestamp: b.timestamp }));
      blocks.set(blockNumber, block);
    }
    return block;
  };
  return {
    events,
    anchors,
    headTime: head.timestamp,
    headBlock: head.number,
    isAnchorer: (address) => anchorContract.hasRole(role, address),
    blockAt,
  };
}

/** One grant issuance and what happened to it, rebuilt from events alone. */
export interface GrantTimeline {
  subject: string;
  grantee: string;
  grantId: string;
  category: string;
  purpose: string;
  events: ChainEvent[];
}

/** Groups the registry's events into per-grant timelines; revoke-all and data-expiry events join every grant they touch. */
export function grantTimelines(events: readonly ChainEvent[]): GrantTimeline[] {
  const byId = new Map<string, GrantTimeline>();
  const bySubject = new Map<string, GrantTimeline[]>();
  for (const e of events) {
    if (e.kind === "issued" && !byId.has(e.grantId!)) {
      const timeline = { subject: e.subject, grantee: e.grantee!, grantId: e.grantId!, category: e.category!, purpose: e.purpose!, events: [] };
      byId.set(e.grantId!, timeline);
      bySubject.set(e.subject, [...(bySubject.get(e.subject) ?? []), timeline]);
    }
  }
  for (const e of events) {
    for (const t of bySubject.get(e.subject) ?? []) {
      const touches =
        e.grantId === t.grantId ||
        (e.kind === "allRevoked" && e.grantee === t.grantee) ||
        (e.kind === "dataExpiry" && e.category === t.category);
      if (touches) t.events.push(e);
    }
  }
  return [...byId.values()];
}

export type EndReason = GrantEnd;

/** A grant's state at `time`, counting only the events `counts` admits (those the decision could have known). */
export interface GrantState {
  issued: boolean;
  grantedAt: number;
  expiresAt: number;
  valid: boolean;
  /** Why it is not valid (null when valid or never issued). */
  reason: EndReason | null;
  /** When the current issuance ended (or will end, by expiry), in chain seconds. */
  endsAt: number | null;
}

export function grantStateAt(timeline: GrantTimeline, time: number, counts: (e: ChainEvent) => boolean = (e) => e.blockTime <= time): GrantState {
  let issued = false;
  let grantedAt = 0;
  let expiresAt = 0;
  let revokedAt: number | null = null;
  let cutoff: number | null = null;
  let dataExpiresAt = 0;
  for (const e of timeline.events) {
    if (!counts(e)) continue;
    switch (e.kind) {
      case "issued":
        issued = true;
        grantedAt = e.blockTime;
        expiresAt = e.expiresAt!;
        revokedAt = null;
        break;
      case "changed":
        expiresAt = e.expiresAt!;
        break;
      case "revoked":
        revokedAt = e.blockTime;
        break;
      case "allRevoked":
        cutoff = e.blockTime;
        break;
      case "dataExpiry":
        dataExpiresAt = e.expiresAt!;
        break;
    }
  }
  if (!issued) return { issued, grantedAt, expiresAt, valid: false, reason: null, endsAt: null };
  const { valid, reason, expiresAt: until } = grantValidity({ grantedAt, expiresAt: revokedAt === null ? expiresAt : 0, allRevokedAt: cutoff ?? 0, dataExpiresAt }, time);
  // A revocation ends the issuance when it was mined; the rule's expiry is 0 for it.
  const endsAt = reason === "revoked" ? revokedAt : reason === "revoked-all" ? cutoff : until;
  return { issued, grantedAt, expiresAt, valid, reason, endsAt };
}
