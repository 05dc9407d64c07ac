import { id, Interface } from "ethers";
import { AuditAnchor__factory } from "../typechain-types";
import type { Deployment } from "../core/deployment";
import { logIdOf, logOriginOf } from "../core/logOrigin";
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
  /** The account that sent it. */
  anchorer: string;
  /** Whether the anchorer held ANCHORER_ROLE at that point of the chain, replayed from role events. */
  authorized: boolean;
}

/** The log AuditAnchor registered (its LogRegistered event): the staleness window comes from here, never from the gateway. */
export interface ChainLogInfo {
  logId: string;
  origin: string;
  /** The raw Ed25519 public key that signs its checkpoints as C2SP notes, 0x-hex. */
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
  /** That log's anchors only, in chain order. */
  anchors: ChainAnchor[];
  /** The chain head's time when read: "now" for deciding what should have happened by then. */
  headTime: number;
  headBlock: number;
  /** Whether an address held AuditAnchor's anchoring role at the end of block `atBlock` (default: the head read). */
  isAnchorer(address: string, atBlock?: number): Promise<boolean>;
  /** The canonical chain's block at a height (null above the head), read once per height. */
  blockAt(blockNumber: number): Promise<ChainBlock | null>;
  /** The registered log whose origin is the deployment's, or null when none is: every release then fails closed. */
  log: ChainLogInfo | null;
}

const anchorInterface = new Interface(AuditAnchor__factory.abi);
const ANCHORER_ROLE = id("ANCHORER_ROLE");

/** ANCHORER_ROLE's holders through time, from RoleGranted and RoleRevoked events taken in chain order. */
class RoleReplay {
  private readonly changes = new Map<string, { blockNumber: number; holds: boolean }[]>();

  apply(account: string, blockNumber: number, holds: boolean): void {
    const key = account.toLowerCase();
    const list = this.changes.get(key) ?? [];
    list.push({ blockNumber, holds });
    this.changes.set(key, list);
  }

  /** As of the last change applied so far, or at the end of `atBlock`. */
  holds(account: string, atBlock = Number.POSITIVE_INFINITY): boolean {
    let holds = false;
    for (const change of this.changes.get(account.toLowerCase()) ?? []) {
      if (change.blockNumber > atBlock) break;
      holds = change.holds;
    }
    return holds;
  }
}

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
  const origin = logOriginOf(deployment);
  const logId = logIdOf(origin);
  let registered: ChainLogInfo | null = null;
  const roles = new RoleReplay();
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
        if (parsed === null) continue;
        if ((parsed.name === "RoleGranted" || parsed.name === "RoleRevoked") && parsed.args.role === ANCHORER_ROLE) {
          roles.apply(parsed.args.account as string, log.blockNumber, parsed.name === "RoleGranted");
        } else if (parsed.name === "LogRegistered" && parsed.args.logId === logId && parsed.args.origin === origin) {
          registered = {
            logId,
            origin,
            noteKey: (parsed.args.noteKey as string).toLowerCase(),
            maxHeadAgeSeconds: Number(parsed.args.maxHeadAgeSeconds),
            blockNumber: log.blockNumber,
          };
        } else if (parsed.name === "CheckpointAnchored" && parsed.args.logId === logId) {
          const anchorer = (parsed.args.anchorer as string).toLowerCase();
          anchors.push({
            treeSize: Number(parsed.args.treeSize),
            rootHash: (parsed.args.rootHash as string).toLowerCase(),
            anchoredAt: Number(parsed.args.anchoredAt),
            blockNumber: log.blockNumber,
            txHash: log.transactionHash.toLowerCase(),
            anchorer,
            // The role as the events so far leave it: a revocation earlier in the same block counts.
            authorized: roles.holds(anchorer),
          });
        }
      }
    }
  }
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
    log: registered,
    anchors,
    headTime: head.timestamp,
    headBlock: head.number,
    isAnchorer: async (address, atBlock) => roles.holds(address, atBlock ?? head.number),
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
