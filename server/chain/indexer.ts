import type { Provider, Block } from "ethers";
import type { Logger } from "pino";
import type { IndexStore, ChainEvent, IndexCursor } from "../store/types";
import { decodeRegistryLog } from "./registryEvents";
import { GatewayError } from "../errors";

export interface IndexerOptions {
  registryAddress: string;
  /** The block that deployed the registry: nothing before it is read. */
  fromBlock: number;
  /** Identifies the deployment; a different value in the store means a new chain: start over. */
  deploymentId: string;
  pageBlocks: number;
  pollIntervalMs: number;
  maxLagBlocks: number;
  maxAgeMs: number;
  confirmations: number;
}

/** What the release decision needs to know about the chain, as of the last successful poll. */
export interface ChainView {
  headNumber: number;
  headTime: number;
  indexedBlock: number;
  /** Wall-clock ms when the head was last read successfully. */
  polledAt: number;
}

/** The index cannot vouch for "now": every decision that needs it answers 503 INDEX_STALE. */
export class IndexStaleError extends GatewayError {
  override readonly name = "IndexStaleError";

  constructor(message: string) {
    super("INDEX_STALE", message);
  }
}

/**
 * Follows the registry's events into the store: pages eth_getLogs in bounded ranges, never moves
 * its cursor past a range it did not read, checks stored block hashes against the chain to undo
 * reorganisations, and polls for new blocks.
 */
export class Indexer {
  private view: ChainView | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private failures = 0;
  private stopped = true;
  lastError: Error | null = null;

  constructor(
    private readonly provider: Provider,
    private readonly store: IndexStore,
    private readonly options: IndexerOptions,
    private readonly log: Logger,
  ) {
    if (store.getMeta("deployment.id") !== options.deploymentId) {
      store.resetIndex();
      store.setMeta("deployment.id", options.deploymentId);
    }
  }

  /** The chain as last seen, or throws IndexStaleError when that view is too old or too far behind. */
  freshView(now = Date.now()): ChainView {
    const view = this.view;
    if (!view) throw new IndexStaleError("the index has not read the chain yet");
    if (now - view.polledAt > this.options.maxAgeMs) {
      throw new IndexStaleError(`the chain was last read ${now - view.polledAt} ms ago`);
    }
    if (view.headNumber - view.indexedBlock > this.options.maxLagBlocks) {
      throw new IndexStaleError(`the index is ${view.headNumber - view.indexedBlock} blocks behind the chain`);
    }
    return view;
  }

  get confirmations(): number {
    return this.options.confirmations;
  }

  lastView(): ChainView | null {
    return this.view;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.syncOnce()
        .then(() => {
          this.failures = 0;
          this.schedule(this.options.pollIntervalMs);
        })
        .catch((error: Error) => {
          this.failures += 1;
          this.lastError = error;
          const backoff = Math.min(this.options.pollIntervalMs * 2 ** this.failures, 2000);
          this.log.warn({ err: error.message, failures: this.failures, backoffMs: backoff }, "index sync failed");
          this.schedule(backoff);
        });
    }, delayMs);
    this.timer.unref?.();
  }

  /** Reads the chain up to its head once. Concurrent calls share one run. */
  syncOnce(): Promise<void> {
    if (!this.running) {
      this.running = this.sync().finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  private async sync(): Promise<void> {
    const head = await this.getBlock("latest");
    let cursor = this.store.getCursor() ?? { blockNumber: this.options.fromBlock - 1, blockHash: "" };
    if (cursor.blockHash !== "" && !(cursor.blockNumber === head.number && cursor.blockHash === head.hash)) {
      const reorged = cursor.blockNumber > head.number || (await this.getBlock(cursor.blockNumber)).hash !== cursor.blockHash;
      if (reorged) cursor = await this.undoReorg(head.number);
    }
    while (cursor.blockNumber < head.number) {
      const from = cursor.blockNumber + 1;
      const to = Math.min(cursor.blockNumber + this.options.pageBlocks, head.number);
      cursor = await this.readRange(from, to);
    }
    this.view = { headNumber: head.number, headTime: head.timestamp, indexedBlock: cursor.blockNumber, polledAt: Date.now() };
  }

  private async readRange(from: number, to: number): Promise<IndexCursor> {
    const [logs, end] = await Promise.all([
      this.provider.getLogs({ address: this.options.registryAddress, fromBlock: from, toBlock: to }),
      this.getBlock(to),
    ]);
    const blockNumbers = [...new Set(logs.map((log) => log.blockNumber))];
    const blocks = new Map<number, Block>(
      await Promise.all(blockNumbers.map(async (n) => [n, n === to ? end : await this.getBlock(n)] as const)),
    );
    const events: ChainEvent[] = [];
    for (const log of logs) {
      const block = blocks.get(log.blockNumber)!;
      // A log from a block the chain no longer holds: a reorganisation happened mid-read.
      if (block.hash !== log.blockHash) throw new Error(`block ${log.blockNumber} changed while it was read`);
      events.push(decodeRegistryLog(log, block.timestamp));
    }
    const hashes = [...blocks.values()].map((b) => ({ blockNumber: b.number, blockHash: b.hash! }));
    const cursor = { blockNumber: to, blockHash: end.hash! };
    this.store.applyPage(events, cursor, hashes);
    return cursor;
  }

  /** Finds the newest stored block the chain still holds, and undoes everything after it. */
  private async undoReorg(headNumber: number): Promise<IndexCursor> {
    for (const stored of this.store.recentBlockHashes(4096)) {
      if (stored.blockNumber > headNumber) continue;
      const onChain = await this.getBlock(stored.blockNumber);
      if (onChain.hash === stored.blockHash) {
        const undone = this.store.rollbackTo(stored.blockNumber);
        this.log.warn({ toBlock: stored.blockNumber, undoneEvents: undone }, "chain reorganisation: index rolled back");
        return stored;
      }
    }
    this.log.warn("chain reorganisation past every stored block: reindexing from the deployment block");
    this.store.resetIndex();
    return { blockNumber: this.options.fromBlock - 1, blockHash: "" };
  }

  private async getBlock(tag: number | "latest"): Promise<Block> {
    const block = await this.provider.getBlock(tag);
    if (!block || !block.hash) throw new Error(`block ${tag} is not available`);
    return block;
  }
}
