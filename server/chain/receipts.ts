import type { Logger } from "pino";
import { GatewayError } from "../errors";
import { getBlockHeader, toChainLog, type RawLog, type RpcProvider } from "./logs";
import { decodeRegistryLog } from "./registryEvents";
import type { Indexer } from "./indexer";
import type { AppliedEffect, PendingEffects } from "./pendingEffects";

/** What the gateway made of a mined transaction handed to it. */
export interface HandedTransaction {
  txHash: string;
  blockNumber: number;
  /** The effects that now count at once (revocations, revokeAlls, shortened expiries, data expiries). */
  applied: AppliedEffect[];
  /** True when the index had already read the block: its own state stands, nothing was held. */
  indexed: boolean;
}

/** Receipt look-ups served at once; more wait for a 429 (each costs the node two reads). */
const MAX_IN_FLIGHT = 16;
/** How long the relayer's own transaction is followed to its receipt; the poll reads it anyway. */
const FOLLOW_TIMEOUT_MS = 120_000;

const HASH = /^0x[0-9a-fA-F]{64}$/;

interface RawReceipt {
  transactionHash?: unknown;
  blockNumber?: unknown;
  blockHash?: unknown;
  status?: unknown;
  logs?: unknown;
}


/**
 * Mined transactions anyone hands the gateway (POST /v1/chain/transactions; the wallet page after
 * each change it sends, the relayer for its own): their registry events that end access sooner count
 * in the decision at once, before the poll reads their block. The receipt is read from the gateway's
 * own node and must come from this deployment's registry, so a caller can only hasten what the chain
 * already says. A node that cannot read back a receipt is not trusted for the head either: the index
 * fails closed until its next poll.
 */
export class MinedTransactions {
  private inFlight = 0;
  private readonly following = new Map<string, Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly deps: {
      provider: RpcProvider;
      registryAddress: string;
      indexer: Pick<Indexer, "distrust" | "lastView">;
      pending: PendingEffects;
      pollIntervalMs: number;
      log: Logger;
    },
  ) {}

  /** Reads `txHash`'s receipt and applies its registry events; throws TX_NOT_FOUND, NOT_A_REGISTRY_TX or CHAIN_UNAVAILABLE. */
  async submit(txHash: string): Promise<HandedTransaction> {
    if (this.inFlight >= MAX_IN_FLIGHT) throw new GatewayError("RATE_LIMITED", "too many transactions are being read back: try again shortly");
    this.inFlight += 1;
    try {
      const receipt = await this.readReceipt(txHash).catch((error: unknown) => {
        throw this.unreadable(txHash, error);
      });
      if (receipt === null) throw new GatewayError("TX_NOT_FOUND", `the gateway's chain holds no mined transaction ${txHash} (not mined yet, or not on this chain)`);
      return await this.accept(txHash, receipt, true);
    } finally {
      this.inFlight -= 1;
    }
  }

  /** Follows the relayer's own transaction to its receipt and applies it; never throws. */
  follow(txHash: string): void {
    const hash = txHash.toLowerCase();
    const done = this.followUntilMined(hash)
      .catch((error: Error) => this.deps.log.warn({ txHash: hash, err: error.message }, "a relayed transaction could not be applied early; the poll will read it"))
      .finally(() => this.following.delete(hash));
    this.following.set(hash, done);
  }

  /** Resolves once a followed transaction was applied or given up on (tests). */
  followed(txHash: string): Promise<void> {
    return this.following.get(txHash.toLowerCase()) ?? Promise.resolve();
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private async followUntilMined(txHash: string): Promise<void> {
    const deadline = Date.now() + FOLLOW_TIMEOUT_MS;
    while (!this.stopped && Date.now() < deadline) {
      const receipt = await this.readReceipt(txHash).catch(() => null);
      if (receipt !== null) {
        await this.accept(txHash, receipt, false);
        return;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          resolve();
        }, this.deps.pollIntervalMs);
        timer.unref?.();
        this.timers.add(timer);
      });
    }
  }

  private async readReceipt(txHash: string): Promise<RawReceipt | null> {
    const raw = (await this.deps.provider.send("eth_getTransactionReceipt", [txHash])) as RawReceipt | null;
    if (raw === null) return null;
    if (typeof raw !== "object" || typeof raw.blockNumber !== "string" || typeof raw.blockHash !== "string" || !HASH.test(raw.blockHash) || !Array.isArray(raw.logs)) {
      throw new Error(`the receipt of ${txHash} came back malformed`);
    }
    if (typeof raw.transactionHash !== "string" || raw.transactionHash.toLowerCase() !== txHash.toLowerCase()) throw new Error(`the node answered another transaction's receipt for ${txHash}`);
    return raw;
  }

  private async accept(txHash: string, receipt: RawReceipt, handedOver: boolean): Promise<HandedTransaction> {
    const blockNumber = Number(receipt.blockNumber);
    const blockHash = (receipt.blockHash as string).toLowerCase();
    const registry = this.deps.registryAddress.toLowerCase();
    const logs = (receipt.logs as RawLog[]).filter((log) => typeof log?.address === "string" && log.address.toLowerCase() === registry && log.removed !== true);
    if (receipt.status !== "0x1" || logs.length === 0) {
      throw new GatewayError(
        "NOT_A_REGISTRY_TX",
        receipt.status !== "0x1" ? `transaction ${txHash} reverted: it changed nothing` : `transaction ${txHash} holds no event of this gateway's DataUseRegistry (${this.deps.registryAddress})`,
      );
    }
    const block = await getBlockHeader(this.deps.provider, blockNumber).catch((error: unknown) => {
      throw handedOver ? this.unreadable(txHash, error) : error;
    });
    if (block.hash.toLowerCase() !== blockHash) throw new GatewayError("TX_NOT_FOUND", `transaction ${txHash}'s block ${blockNumber} is no longer on the gateway's chain`);
    const indexedBlock = this.deps.indexer.lastView()?.indexedBlock ?? -1;
    const base = { txHash: txHash.toLowerCase(), blockNumber };
    if (blockNumber <= indexedBlock) return { ...base, applied: [], indexed: true };
    let events;
    try {
      events = logs.map((log) => decodeRegistryLog(toChainLog(log), block.timestamp));
    } catch (error) {
      throw handedOver ? this.unreadable(txHash, error) : error;
    }
    const applied = this.deps.pending.apply(events);
    this.deps.pending.prune(indexedBlock);
    if (applied.length > 0) this.deps.log.info({ txHash: base.txHash, blockNumber, applied: applied.length, handedOver }, "mined transaction applied before the poll read it");
    return { ...base, applied, indexed: false };
  }

  /** The node could not read back what it mined: it may be failing, so the index fails closed until its next poll. */
  private unreadable(txHash: string, error: unknown): GatewayError {
    const reason = `the node could not read back transaction ${txHash}: ${(error as Error)?.message ?? String(error)}`;
    this.deps.indexer.distrust(reason);
    this.deps.log.warn({ txHash, err: (error as Error)?.message }, "a handed-over transaction could not be read: failing closed until the next poll");
    return new GatewayError("CHAIN_UNAVAILABLE", `${reason}; releases answer 503 until the gateway reads the chain again`, { cause: error });
  }
}
