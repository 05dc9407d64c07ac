import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wallet } from "ethers";
import pino from "pino";
import { parseEnv } from "../server/config/env";
import { readDeployment } from "../core/deployment";
import { HttpRpcProvider } from "../server/chain/rpcProvider";
import { createGateway } from "../server/gateway";

/**
 * The gateway's start-up catch-up, in a process of its own as in production: a fresh store follows
 * the registry from its deployment block to the head with the gateway's default paging. Prints
 * `{ events, seconds, expiryTickMs }` as JSON.
 */
async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "dul-catchup-"));
  const env = parseEnv({ ...process.env, DATA_DIR: dataDir, LOG_LEVEL: "silent" });
  const deployment = readDeployment(env.DEPLOYMENT_FILE!);
  const provider = new HttpRpcProvider(env.RPC_URL, env.CHAIN_ID, { staticNetwork: true });
  const gateway = createGateway({ env, deployment, provider, signer: Wallet.createRandom(provider), masterKey: Buffer.alloc(32, 1), logger: pino({ level: "silent" }) });
  try {
    const started = performance.now();
    await gateway.indexer.syncOnce();
    const seconds = (performance.now() - started) / 1000;
    const events = gateway.store.listGrants({ limit: 1_000_000, offset: 0 }).length;
    // The expiry scheduler's tick over this index, every grant live and nothing due: the first run
    // settles what the catch-up left pending, the next ones are what each tick costs from then on.
    // It deletes only on a fresh view of a recent head: a block mined and read just before.
    await provider.send("evm_mine", []);
    await gateway.indexer.syncOnce();
    const first = gateway.deletion.runDue();
    if (first.waiting) throw new Error(`the expiry scheduler did not run: ${first.waiting}`);
    const ticks: number[] = [];
    for (let i = 0; i < 21; i++) {
      const tickStarted = performance.now();
      const done = gateway.deletion.runDue();
      ticks.push(performance.now() - tickStarted);
      if (done.waiting || done.dataExpiries + done.orders > 0) throw new Error(`the catch-up chain's grants should all be live, and the tick run: ${done.waiting}`);
    }
    const expiryTickMs = ticks.sort((a, b) => a - b)[10];
    process.stdout.write(JSON.stringify({ events, seconds, expiryTickMs }) + "\n");
  } finally {
    await gateway.stop();
    provider.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
