import { toQuantity, type Provider } from "ethers";

/** A provider that also speaks raw JSON-RPC (ethers' JsonRpcProvider, Hardhat's provider). */
export type RpcProvider = Provider & { send(method: string, params: unknown[]): Promise<unknown> };

/** What decoding a log needs; ethers' Log has the same fields. */
export interface ChainLog {
  address: string;
  topics: readonly string[];
  data: string;
  blockNumber: number;
  blockHash: string;
  transactionHash: string;
  index: number;
}

/** A log as JSON-RPC answers it (eth_getLogs, a receipt's logs). */
export interface RawLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: string;
  blockHash: string;
  transactionHash: string;
  logIndex: string;
  removed?: boolean;
}

export function toChainLog(log: RawLog): ChainLog {
  return {
    address: log.address,
    topics: log.topics,
    data: log.data,
    blockNumber: Number(log.blockNumber),
    blockHash: log.blockHash,
    transactionHash: log.transactionHash,
    index: Number(log.logIndex),
  };
}

/**
 * eth_getLogs, read raw: building ethers' Log objects cost more than the rest of indexing together
 * (0.45 s per 10,000 logs).
 */
export async function getLogs(
  provider: RpcProvider,
  filter: { address: string | string[] } & ({ fromBlock: number; toBlock: number } | { blockHash: string }),
): Promise<ChainLog[]> {
  // By block hash (EIP-234), a node that does not hold the block answers an error, not an empty list.
  const range = "blockHash" in filter ? { blockHash: filter.blockHash } : { fromBlock: toQuantity(filter.fromBlock), toBlock: toQuantity(filter.toBlock) };
  const raw = (await provider.send("eth_getLogs", [{ address: filter.address, ...range }])) as RawLog[] | null;
  if (!Array.isArray(raw)) throw new Error(`eth_getLogs returned ${raw === null ? "null" : typeof raw}, not a list`);
  return raw.map(toChainLog);
}

/** What the indexer reads of a block. */
export interface BlockHeader {
  number: number;
  hash: string;
  parentHash: string;
  timestamp: number;
  /** The block's logs bloom (0x + 512 hex digits), or null when the node left it out. */
  logsBloom: string | null;
}

const HASH = /^0x[0-9a-fA-F]{64}$/;

/**
 * eth_getBlockByNumber without transactions, read raw: the indexer asks for the head 20 times a
 * second, and ethers' Block objects cost it more than the request itself.
 */
export async function getBlockHeader(provider: RpcProvider, tag: number | "latest"): Promise<BlockHeader> {
  const raw = (await provider.send("eth_getBlockByNumber", [tag === "latest" ? tag : toQuantity(tag), false])) as Record<string, unknown> | null;
  if (raw === null || typeof raw !== "object") throw new Error(`block ${tag} is not available`);
  const { number, hash, parentHash, timestamp, logsBloom } = raw;
  if (typeof number !== "string" || typeof timestamp !== "string" || typeof hash !== "string" || typeof parentHash !== "string" || !HASH.test(hash) || !HASH.test(parentHash)) {
    throw new Error(`block ${tag} came back malformed`);
  }
  // Hashes as the node wrote them, as the stored cursor and blocks hold them and logs carry them.
  const header = { number: Number(number), hash, parentHash, timestamp: Number(timestamp), logsBloom: typeof logsBloom === "string" ? logsBloom : null };
  if (!Number.isSafeInteger(header.number) || !Number.isSafeInteger(header.timestamp) || (tag !== "latest" && header.number !== tag)) {
    throw new Error(`block ${tag} came back malformed`);
  }
  return header;
}
