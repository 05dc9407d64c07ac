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
 * `{ events, seconds }` as JSON.
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
    process.stdout.write(JSON.stringify({ events, seconds }) + "\n");
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
