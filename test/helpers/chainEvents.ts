import { hexlify, randomBytes } from "ethers";
import type { ChainEvent, IndexStore } from "../../server/store/types";

export const randomWord = () => hexlify(randomBytes(32));

/**
 * Applies synthetic registry events to a store, one block per call (numbered from 1), as the
 * indexer would: for the scheduler's tests, which need no chain.
 */
export function eventMiner(store: () => Pick<IndexStore, "applyPages">): { mine(blockTime: number, ...events: Partial<ChainEvent>[]): void; readonly block: number } {
  let block = 0;
  return {
    mine(blockTime, ...events) {
      block += 1;
      const full = events.map((e, logIndex): ChainEvent => ({
        blockNumber: block, blockHash: randomWord(), blockTime, txHash: randomWord(), logIndex, grantee: null, grantId: null, category: null, purpose: null,
        expiresAt: null, previousExpiresAt: null, kind: "issued", subject: "", ...e,
      }));
      store().applyPages([{ events: full, cursor: { blockNumber: block, blockHash: randomWord() }, blockHashes: [] }]);
    },
    get block() {
      return block;
    },
  };
}
