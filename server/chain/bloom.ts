import { EventFragment, keccak256 } from "ethers";
import { registryInterface } from "./registryEvents";

/** The three bit positions (0..2047) an item sets in a 2048-bit logs bloom (Yellow Paper, M3:2048). */
function bloomBits(itemHex: string): number[] {
  const hash = keccak256(itemHex);
  const bits: number[] = [];
  for (let i = 0; i < 3; i++) bits.push(parseInt(hash.slice(2 + 4 * i, 6 + 4 * i), 16) & 2047);
  return bits;
}

const BLOOM = /^0x[0-9a-fA-F]{512}$/;

function holds(bloomHex: string, bits: readonly number[]): boolean {
  // Bit b is bit (b mod 8) of byte 255 - floor(b / 8), counting bytes from the left.
  return bits.every((bit) => (parseInt(bloomHex.substr(2 + 2 * (255 - (bit >> 3)), 2), 16) >> (bit & 7)) & 1);
}

/**
 * Whether a block's logs bloom says it may hold one of the registry's events: its address and the
 * topic of at least one of its events. A bloom has false positives, never false negatives.
 */
export function registryBloomFilter(registryAddress: string): (logsBloom: string | null) => boolean {
  const address = bloomBits(registryAddress.toLowerCase());
  const topics = registryInterface.fragments.filter((f): f is EventFragment => f instanceof EventFragment).map((event) => bloomBits(event.topicHash));
  return (logsBloom) => logsBloom !== null && BLOOM.test(logsBloom) && holds(logsBloom, address) && topics.some((bits) => holds(logsBloom, bits));
}
