import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { NonceManager, Wallet, type Signer } from "ethers";
import { HttpRpcProvider } from "../../server/chain/rpcProvider";

/** Anvil's default mnemonic's first keys ("test test ... junk"), the same accounts Hardhat starts with. */
const ANVIL_KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3d71ba3ff3e8f6f0",
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
  "0x47e179ec197488593b187f80a8eb0da603cc5a5ccff28ef3da6f5a18e2e16a4a",
];

/** The anvil binary that the npm package for this platform ships (no download). */
export function anvilBinary(): string {
  const require = createRequire(__filename);
  const pkg = `@foundry-rs/anvil-${process.platform}-${process.arch === "x64" ? "amd64" : process.arch}`;
  return join(dirname(require.resolve(`${pkg}/package.json`)), "bin", "anvil");
}

export interface Anvil {
  url: string;
  /** The gateway's own JSON-RPC provider over HTTP, as in production. */
  provider: HttpRpcProvider;
  /** Accounts 0..4, each counting its own nonces (anvil mines at once; a pending count can lag). */
  signers: Signer[];
  addresses: string[];
  send(method: string, params?: unknown[]): Promise<any>;
  /** Replaces the newest `depth` blocks with as many empty ones: every transaction in them is gone. */
  reorg(depth: number): Promise<void>;
  /** Mines one block at `timestamp` (chain seconds). */
  mineAt(timestamp: number): Promise<void>;
  latest(): Promise<{ number: number; hash: string; timestamp: number }>;
  stop(): Promise<void>;
}

/** Starts Foundry's anvil on an ephemeral loopback port: a second EVM client, with real reorganisations. */
export async function startAnvil(): Promise<Anvil> {
  const child: ChildProcess = spawn(anvilBinary(), ["--port", "0", "--host", "127.0.0.1", "--hardfork", "cancun"], { stdio: ["ignore", "pipe", "pipe"] });
  const url = await new Promise<string>((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`anvil did not start: ${seen.slice(-500)}`)), 15_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /Listening on (127\.0\.0\.1:\d+)/.exec(seen);
      if (match) {
        clearTimeout(timer);
        child.stdout!.removeAllListeners("data");
        child.stdout!.resume();
        resolve(`http://${match[1]}`);
      }
    });
    child.once("exit", (code) => reject(new Error(`anvil exited with ${code}: ${seen.slice(-500)}`)));
  });
  child.stderr!.resume();
  const provider = new HttpRpcProvider(url);
  const wallets = ANVIL_KEYS.map((key) => new NonceManager(new Wallet(key, provider)));
  const send = (method: string, params: unknown[] = []) => provider.send(method, params);
  const latest = async () => {
    const block = await send("eth_getBlockByNumber", ["latest", false]);
    return { number: Number(block.number), hash: block.hash as string, timestamp: Number(block.timestamp) };
  };
  return {
    url,
    provider,
    signers: wallets,
    addresses: ANVIL_KEYS.map((key) => new Wallet(key).address),
    send,
    async reorg(depth) {
      await send("anvil_reorg", [depth, []]);
      // Removed transactions leave the accounts' nonces behind what the managers counted.
      for (const wallet of wallets) wallet.reset();
    },
    async mineAt(timestamp) {
      await send("evm_setNextBlockTimestamp", [timestamp]);
      await send("evm_mine", []);
    },
    latest,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
