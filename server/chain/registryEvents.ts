import { EventFragment, Interface } from "ethers";
import { DataUseRegistry__factory } from "../../typechain-types";
import type { ChainEvent } from "../store/types";
import { BYTES32, grantIdOf } from "../../core/ids";
import type { ChainLog } from "./logs";

/** The registry's ABI, from the TypeChain bindings generated at compile time: defined nowhere else. */
export const registryInterface: Interface = new Interface(DataUseRegistry__factory.abi);

const lower = (value: string): string => value.toLowerCase();

/** How to read one argument of an event from its 32-byte word (64 hex digits). */
type WordReader = (word: string) => string | number;

function wordReader(type: string): WordReader {
  if (type === "address") {
    return (word) => {
      if (!/^0{24}/.test(word)) throw new Error("an address word with high bits set");
      return `0x${word.slice(24)}`.toLowerCase();
    };
  }
  if (type === "bytes32") return (word) => `0x${word}`.toLowerCase();
  const bits = /^uint(\d+)$/.exec(type);
  if (bits && Number(bits[1]) <= 48) {
    const limit = 2n ** BigInt(bits[1]);
    return (word) => {
      const value = BigInt(`0x${word}`);
      if (value >= limit) throw new Error(`a ${type} word out of range`);
      return Number(value);
    };
  }
  throw new Error(`registry events must have static arguments this decoder reads; ${type} is not one`);
}

/**
 * Each registry event by its topic, with a reader per argument. Every argument is one static word,
 * so a log is read by slicing: ethers' parseLog, building its Result proxies, cost more per log than
 * storing it.
 */
const eventsByTopic = new Map(
  registryInterface.fragments
    .filter((fragment): fragment is EventFragment => fragment instanceof EventFragment)
    .map((event) => [event.topicHash, { name: event.name, inputs: event.inputs.map((input) => ({ name: input.name, indexed: input.indexed === true, read: wordReader(input.type) })) }]),
);

const HEX = /^0x[0-9a-fA-F]*$/;

/** One registry log's event name and arguments, checked word by word. */
function parseRegistryLog(log: ChainLog): { name: string; args: Record<string, string | number> } {
  const event = eventsByTopic.get(log.topics[0]?.toLowerCase());
  if (!event) throw new Error(`unknown registry log in tx ${log.transactionHash}`);
  const indexed = event.inputs.filter((input) => input.indexed).length;
  if (
    log.topics.length !== 1 + indexed ||
    !log.topics.every((topic) => BYTES32.test(topic)) ||
    log.data.length !== 2 + 64 * (event.inputs.length - indexed) ||
    !HEX.test(log.data)
  ) {
    throw new Error(`malformed ${event.name} log in tx ${log.transactionHash}`);
  }
  const args: Record<string, string | number> = {};
  let topic = 1;
  let word = 0;
  for (const input of event.inputs) {
    const hex = input.indexed ? log.topics[topic++].slice(2) : log.data.slice(2 + 64 * word, 2 + 64 * ++word);
    args[input.name] = input.read(hex);
  }
  return { name: event.name, args };
}

/**
 * Decodes one registry log into the store's event shape. `GrantIssued` carries no id: it is derived
 * with the shared helper, exactly as the contract derives it.
 */
export function decodeRegistryLog(log: ChainLog, blockTime: number): ChainEvent {
  const { name, args } = parseRegistryLog(log);
  const word = (key: string) => args[key] as string;
  const time = (key: string) => args[key] as number;
  const base = {
    blockNumber: log.blockNumber,
    blockHash: lower(log.blockHash),
    blockTime,
    txHash: lower(log.transactionHash),
    logIndex: log.index,
    subject: word("subject"),
    grantee: null,
    grantId: null,
    category: null,
    purpose: null,
    expiresAt: null,
    previousExpiresAt: null,
  };
  switch (name) {
    case "GrantIssued":
      return {
        ...base,
        kind: "issued",
        grantee: word("grantee"),
        grantId: lower(grantIdOf(word("subject"), word("grantee"), word("category"), word("purpose"))),
        category: word("category"),
        purpose: word("purpose"),
        expiresAt: time("expiresAt"),
      };
    case "GrantExpiryChanged":
      return { ...base, kind: "changed", grantee: word("grantee"), grantId: word("grantId"), expiresAt: time("newExpiresAt"), previousExpiresAt: time("previousExpiresAt") };
    case "GrantRevoked":
      return { ...base, kind: "revoked", grantee: word("grantee"), grantId: word("grantId") };
    case "AllGrantsRevoked":
      return { ...base, kind: "allRevoked", grantee: word("grantee") };
    case "DataExpirySet":
      return { ...base, kind: "dataExpiry", category: word("category"), expiresAt: time("expiresAt"), previousExpiresAt: time("previousExpiresAt") };
    default:
      throw new Error(`unexpected registry event ${name}`);
  }
}
