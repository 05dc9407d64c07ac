import { ZeroHash } from "ethers";
import type { Logger } from "pino";
import type { IndexStore, IndexCursor, IndexPage } from "../store/types";
import { getBlockHeader, type BlockHeader, type RpcProvider } from "./logs";
import { ChainMovedError, PageReader, decodePage, type FetchedPage } from "./pageReader";
import { GatewayError } from "../errors";
import { envSchema } from "../config/env";
import { compareHeads, logAgreement, type EndpointHead, type PeerEndpoint } from "./endpoints";
import { loadFastKeccak } from "../../core/ids";

export interface IndexerOptions {
  registryAddress: string;
  /** The block that deployed the registry: nothing before it is read. */
  fromBlock: number;
  /** Identifies the deployment; a different value in the store means a new chain: start over. */
  deploymentId: string;
  /** The widest eth_getLogs range, in blocks. */
  pageBlocks: number;
  /**
   * The logs a page aims at: where events are dense the range narrows to about this many, as public
   * RPC endpoints refuse larger answers (10,000 logs is a common cap). Default 5,000.
   */
  pageLogs?: number;
  pollIntervalMs: number;
  maxLagBlocks: number;
  maxAgeMs: number;
  /** The oldest head, by its block time against the wall clock, the index may vouch for (MAX_HEAD_AGE_SECONDS, whose default it takes). */
  maxHeadAgeSeconds?: number;
  confirmations: number;
  /** Further endpoints of the chain whose heads must agree with the primary's (RPC_URLS). */
  peers?: readonly PeerEndpoint[];
  /** How many blocks apart the endpoints' heads may be (RPC_MAX_HEAD_SPREAD). */
  maxHeadSpread?: number;
  /** The primary endpoint as /readyz and the log name it. */
  primaryUrl?: string;
  /** The wall clock, in ms: tests inject one. */
  now?: () => number;
}

/** What the release decision needs to know about the chain, as of the last successful poll. */
export interface ChainView {
  headNumber: number;
  /** The head block's hash: a release logs it, so an auditor can tell a head a reorganisation removed. */
  headHash: string;
  headTime: number;
  indexedBlock: number;
  /** Wall-clock ms when the head was last read successfully. */
  polledAt: number;
}

/**
 * While catching up, pages are committed together up to this many events: a commit costs about
 * one write per dirty page, so grouping four pages of 5,000 doubled throughput.
 */
const COMMIT_EVENTS = 50_000;

/** A timeout, a refused connection or a cancelled request: the endpoint, not the range, is at fault. */
function isUnreachable(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return code === "TIMEOUT" || code === "CANCELLED" || /ECONNREFUSED|ECONNRESET|ENOTFOUND|fetch failed|timed out/i.test(message ?? "");
}

/** Pages requested ahead of the one being stored. */
const READ_AHEAD_PAGES = 4;

interface PageRead {
  from: number;
  to: number;
  fetched: Promise<FetchedPage>;
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
  /** Why the endpoints' heads do not vouch for each other at the last poll, or null. */
  private peerFault: string | null = null;
  private endpointHeads: EndpointHead[] = [];
  /** Bumped by distrust(); a poll that read its head after the latest bump clears it. */
  private distrustSeq = 0;
  private distrustReason: string | null = null;
  private readonly now: () => number;
  private readonly pages: PageReader;
  private readonly maxHeadAgeSeconds: number;

  constructor(
    private readonly provider: RpcProvider,
    private readonly store: IndexStore,
    private readonly options: IndexerOptions,
    private readonly log: Logger,
  ) {
    this.now = options.now ?? Date.now;
    this.pages = new PageReader(provider, options.registryAddress, log);
    this.maxHeadAgeSeconds = options.maxHeadAgeSeconds ?? envSchema.shape.MAX_HEAD_AGE_SECONDS.parse(undefined);
    if (store.getMeta("deployment.id") !== options.deploymentId) {
      store.resetIndex();
      store.setMeta("deployment.id", options.deploymentId);
    }
  }

  /** The chain as last seen, or throws IndexStaleError when that view is too old or too far behind. */
  freshView(now = this.now()): ChainView {
    const view = this.view;
    if (!view) throw new IndexStaleError("the index has not read the chain yet");
    if (this.distrustReason !== null) throw new IndexStaleError(this.distrustReason);
    if (now - view.polledAt > this.options.maxAgeMs) {
      throw new IndexStaleError(`the chain was last read ${now - view.polledAt} ms ago`);
    }
    // A read that succeeds is not enough: a node that keeps answering the same head hides every
    // block after it. The head's own time says how old the chain it shows is.
    const headAge = now / 1000 - view.headTime;
    if (headAge > this.maxHeadAgeSeconds) {
      throw new IndexStaleError(`the chain head (block ${view.headNumber}) is ${headAge.toFixed(1)} s old, over the ${this.maxHeadAgeSeconds} s allowed`);
    }
    if (this.peerFault !== null) throw new IndexStaleError(this.peerFault);
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

  /** Each endpoint's head at the last poll (the primary first), for /readyz. */
  endpoints(): EndpointHead[] {
    return this.endpointHeads;
  }

  /**
   * The index cannot vouch for the chain until a poll that starts after this call reads the head:
   * something (a receipt the node could not read back) says the node may be failing.
   */
  distrust(reason: string): void {
    this.distrustSeq += 1;
    this.distrustReason = reason;
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
    // Grant ids are derived for every GrantIssued log: with the WebAssembly keccak, not the slow one.
    await loadFastKeccak();
    const distrustSeq = this.distrustSeq;
    const head = await this.getBlock("latest");
    // The view is as fresh as this read of the head, however long the sync then takes.
    const polledAt = this.now();
    const peers = this.options.peers ?? [];
    const agreement = peers.length > 0 ? compareHeads({ url: this.options.primaryUrl ?? "RPC_URL", head: head.number, hash: head.hash, provider: this.provider }, peers, this.options.maxHeadSpread ?? 0) : null;
    let cursor = this.store.getCursor() ?? { blockNumber: this.options.fromBlock - 1, blockHash: "" };
    if (cursor.blockHash !== "" && !(cursor.blockNumber === head.number && cursor.blockHash === head.hash)) {
      // A head below the cursor that the index read on this very chain is a lagging node (a load
      // balancer's other backend), not a reorganisation: undoing would drop live grants and order
      // their deletion. Fail this sync instead; the view goes stale if the node stays behind.
      if (cursor.blockNumber > head.number && this.store.recentBlockHashes(4096).some((b) => b.blockNumber === head.number && b.blockHash === head.hash)) {
        throw new Error(`the node's head (block ${head.number}) is behind block ${cursor.blockNumber}, which the index read on the same chain: a lagging node`);
      }
      const reorged = cursor.blockNumber > head.number || (await this.getBlock(cursor.blockNumber)).hash !== cursor.blockHash;
      if (reorged) cursor = await this.undoReorg(head.number);
    }
    const pageLogs = this.options.pageLogs ?? 5000;
    // Start narrow and widen while logs are sparse: the first page cannot know the density.
    let span = Math.min(this.options.pageBlocks, 64);
    /** Pages requested and not yet taken, oldest first: the node serves them while earlier ones are stored. */
    let ahead: PageRead[] = [];
    const requestFrom = (after: number) => {
      const from = after + 1;
      const to = Math.min(after + span, head.number);
      const fetched = this.pages.read(from, to, head.number);
      // Awaited in turn, unless an earlier page fails first and the pages after it are dropped.
      fetched.catch(() => undefined);
      ahead.push({ from, to, fetched });
    };

    let pending: IndexPage[] = [];
    let pendingEvents = 0;
    const commit = () => {
      if (pending.length === 0) return;
      this.store.applyPages(pending);
      cursor = pending[pending.length - 1].cursor;
      pending = [];
      pendingEvents = 0;
    };
    let readTo = cursor;
    try {
      while (readTo.blockNumber < head.number) {
        if (ahead.length === 0) requestFrom(readTo.blockNumber);
        const current = ahead.shift()!;
        let page: FetchedPage;
        try {
          page = await current.fetched;
          // Each page must continue the chain the pages before it were read from. Hardhat gives
          // blocks made by hardhat_mine a zero parent hash: for those alone, the block before decides.
          const follows =
            readTo.blockHash === "" ||
            page.parentHash === readTo.blockHash ||
            (page.parentHash === ZeroHash && (await this.getBlock(readTo.blockNumber)).hash === readTo.blockHash);
          if (!follows) throw new ChainMovedError(`block ${current.from} no longer follows block ${readTo.blockNumber}`);
        } catch (error) {
          ahead = [];
          // An endpoint may refuse a range for its size: retry it in halves before giving up. An
          // endpoint that is down or slow is not helped by smaller pages.
          if (error instanceof ChainMovedError || current.to === current.from || isUnreachable(error)) throw error;
          span = Math.max(1, Math.floor((current.to - current.from + 1) / 2));
          continue;
        }
        readTo = page.cursor;
        // Aim further pages at `pageLogs` logs at the density just seen, within pageBlocks.
        const density = page.logs.length / (current.to - current.from + 1);
        span = Math.max(1, Math.min(this.options.pageBlocks, density > 0 ? Math.floor(pageLogs / density) : span * 2));
        let last = ahead.length > 0 ? ahead[ahead.length - 1].to : readTo.blockNumber;
        while (ahead.length < READ_AHEAD_PAGES && last < head.number) {
          requestFrom(last);
          last = ahead[ahead.length - 1].to;
        }
        pending.push(decodePage(page));
        pendingEvents += page.logs.length;
        if (pendingEvents >= COMMIT_EVENTS) commit();
      }
    } finally {
      // Pages read in full are consistent with the chain as it was: keep that progress even when a
      // later page failed. A reorganisation among them shows at the next sync's cursor check.
      commit();
    }
    if (agreement) {
      const { heads, fault } = await agreement;
      logAgreement(this.log, this.peerFault, fault, heads);
      this.peerFault = fault;
      this.endpointHeads = heads;
    } else {
      this.endpointHeads = [{ url: this.options.primaryUrl ?? "RPC_URL", head: head.number }];
    }
    this.view = { headNumber: head.number, headHash: head.hash.toLowerCase(), headTime: head.timestamp, indexedBlock: cursor.blockNumber, polledAt };
    if (distrustSeq === this.distrustSeq) this.distrustReason = null;
  }

  /** Finds the newest stored block the chain still holds, and undoes everything after it. */
  private async undoReorg(headNumber: number): Promise<IndexCursor> {
    for (const stored of this.store.recentBlockHashes(4096)) {
      if (stored.blockNumber > headNumber) continue;
      const onChain = await this.getBlock(stored.blockNumber);
      if (onChain.hash === stored.blockHash) {
        // Until this sync catches up again, the index cannot vouch for the chain: releases answer 503.
        this.view = null;
        const undone = this.store.rollbackTo(stored.blockNumber);
        this.log.warn({ toBlock: stored.blockNumber, undoneEvents: undone }, "chain reorganisation: index rolled back");
        return stored;
      }
    }
    this.view = null;
    this.log.warn("chain reorganisation past every stored block: reindexing from the deployment block");
    this.store.resetIndex();
    return { blockNumber: this.options.fromBlock - 1, blockHash: "" };
  }

  private getBlock(tag: number | "latest"): Promise<BlockHeader> {
    return getBlockHeader(this.provider, tag);
  }
}
