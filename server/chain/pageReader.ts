import type { Logger } from "pino";
import type { IndexCursor, IndexPage } from "../store/types";
import { decodeRegistryLog } from "./registryEvents";
import { getBlockHeader, getLogs, type BlockHeader, type ChainLog, type RpcProvider } from "./logs";
import { registryBloomFilter } from "./bloom";

/** The chain changed under a page being read: the next sync finds the reorganisation and rolls back. */
export class ChainMovedError extends Error {
  override readonly name = "ChainMovedError";
}

export interface FetchedPage {
  logs: ChainLog[];
  blocks: Map<number, BlockHeader>;
  /** The parent of the page's first block: the block before the page must have this hash. */
  parentHash: string;
  cursor: IndexCursor;
}

/** Blocks this close to the head are all read, for their blooms: that is where a lagging backend leaves logs out. */
const BLOOM_TIP_BLOCKS = 64;
/** Reads by block hash of a block whose bloom names our events before it is taken as a false positive. */
const BLOOM_REREADS = 3;

/** A page as the store takes it: its events decoded, each with its block's time. */
export function decodePage(page: FetchedPage): IndexPage {
  const events = page.logs.map((log) => decodeRegistryLog(log, page.blocks.get(log.blockNumber)!.timestamp));
  const blockHashes = [...page.blocks.values()].map((b) => ({ blockNumber: b.number, blockHash: b.hash }));
  return { events, cursor: page.cursor, blockHashes };
}

/** Reads one page of the registry's logs, and the blocks that vouch for them, for the indexer. */
export class PageReader {
  private readonly mayHoldOurs: (logsBloom: string | null) => boolean;

  constructor(
    private readonly provider: RpcProvider,
    private readonly registryAddress: string,
    private readonly log: Logger,
  ) {
    this.mayHoldOurs = registryBloomFilter(registryAddress);
  }

  /**
   * Reads the registry's logs in [from, to] and the blocks that hold them, checked against each
   * other. The blocks that vouch for logs (and the first, for its parent) are read after the logs
   * and the last block: a chain that moved under the read then shows as a hash that differs.
   */
  async read(from: number, to: number, headNumber: number): Promise<FetchedPage> {
    let [logs, last] = await Promise.all([getLogs(this.provider, { address: this.registryAddress, fromBlock: from, toBlock: to }), getBlockHeader(this.provider, to)]);
    const known = new Map<number, BlockHeader>([[to, last]]);
    // Near the head every block is read, for its bloom (below); further back, the blocks that vouch.
    const tip = Math.max(from, headNumber - BLOOM_TIP_BLOCKS + 1);
    const wanted = [from, ...logs.map((log) => log.blockNumber)];
    for (let n = tip; n <= to; n++) wanted.push(n);
    const later = [...new Set(wanted)].filter((n) => !known.has(n));
    for (const block of await Promise.all(later.map((n) => getBlockHeader(this.provider, n)))) known.set(block.number, block);
    logs = await this.checkBlooms(logs, known);
    for (const log of logs) {
      // A log from a block the chain no longer holds: a reorganisation happened mid-read.
      if (known.get(log.blockNumber)?.hash !== log.blockHash) throw new ChainMovedError(`block ${log.blockNumber} changed while it was read`);
    }
    return { logs, blocks: known, parentHash: known.get(from)!.parentHash, cursor: { blockNumber: to, blockHash: last.hash } };
  }

  /**
   * An eth_getLogs answer may leave logs out (a backend behind a load balancer that lags answers []
   * for the newest block). Each block read whose bloom says it may hold the registry's events, and
   * for which no log came back, is read again by its hash (a node without the block then answers an
   * error, not an empty list). A bloom has false positives: after BLOOM_REREADS empty answers the
   * block is taken as empty, and the log says so.
   */
  private async checkBlooms(logs: ChainLog[], blocks: Map<number, BlockHeader>): Promise<ChainLog[]> {
    const withLogs = new Set(logs.map((log) => log.blockNumber));
    const suspects = [...blocks.values()].filter((block) => !withLogs.has(block.number) && this.mayHoldOurs(block.logsBloom));
    if (suspects.length === 0) return logs;
    const found: ChainLog[] = [];
    for (const block of suspects) {
      let reread: ChainLog[] = [];
      for (let attempt = 1; attempt <= BLOOM_REREADS && reread.length === 0; attempt++) {
        reread = await getLogs(this.provider, { address: this.registryAddress, blockHash: block.hash });
      }
      if (reread.length === 0) {
        this.log.warn({ block: block.number, blockHash: block.hash, rereads: BLOOM_REREADS }, "a block's bloom names the registry's events but none came back: taken as a bloom false positive");
        continue;
      }
      this.log.warn({ block: block.number, logs: reread.length }, "eth_getLogs left out a block's registry events; read again by block hash");
      found.push(...reread);
    }
    return [...logs, ...found].sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
  }
}
