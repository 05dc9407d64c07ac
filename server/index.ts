import { NonceManager, Wallet } from "ethers";
import { ConfigError, parseEnv, type Env } from "./config/env";
import { deploymentPath, readDeployment } from "../core/deployment";
import { closeOnSignals, runGateway } from "./run";
import { HttpRpcProvider } from "./chain/rpcProvider";
import { displayUrl } from "./chain/endpoints";

/**
 * The gateway against any EVM chain: `RPC_URL`, `CHAIN_ID`, `DEPLOYMENT_FILE` (default
 * deployments/<CHAIN_ID>.json), `GATEWAY_PRIVATE_KEY` (relays) and `ANCHOR_PRIVATE_KEY` (signs and
 * anchors checkpoints) from the environment.
 */
async function main(): Promise<void> {
  let env: Env;
  try {
    env = parseEnv();
    if (!env.MASTER_KEY) throw new ConfigError("invalid configuration:\n  MASTER_KEY: required (32 bytes hex from a secret store: it wraps every data key)");
    if (!env.GATEWAY_PRIVATE_KEY) throw new ConfigError("invalid configuration:\n  GATEWAY_PRIVATE_KEY: required (the key that relays)");
    if (!env.ANCHOR_PRIVATE_KEY) throw new ConfigError("invalid configuration:\n  ANCHOR_PRIVATE_KEY: required (the key that signs and anchors checkpoints)");
    if (asKey(env.ANCHOR_PRIVATE_KEY).toLowerCase() === asKey(env.GATEWAY_PRIVATE_KEY).toLowerCase()) {
      throw new ConfigError("invalid configuration:\n  ANCHOR_PRIVATE_KEY: must not be GATEWAY_PRIVATE_KEY (a leaked relaying key must not anchor)");
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const deployment = readDeployment(env.DEPLOYMENT_FILE ?? deploymentPath(process.cwd(), env.CHAIN_ID));
  if (deployment.chainId !== env.CHAIN_ID) {
    console.error(`invalid configuration:\n  CHAIN_ID: ${env.CHAIN_ID}, but the deployment file is for chain ${deployment.chainId}`);
    process.exit(2);
  }
  const provider = new HttpRpcProvider(env.RPC_URL, env.CHAIN_ID, { staticNetwork: true, pollingInterval: env.POLL_INTERVAL_MS });
  const signer = new NonceManager(new Wallet(asKey(env.GATEWAY_PRIVATE_KEY!), provider));
  const anchorSigner = new NonceManager(new Wallet(asKey(env.ANCHOR_PRIVATE_KEY!), provider));
  // Second opinions on the head: each endpoint of RPC_URLS must agree with RPC_URL's within RPC_MAX_HEAD_SPREAD blocks.
  const peers = env.RPC_URLS.map((url) => ({ url: displayUrl(url), provider: new HttpRpcProvider(url, env.CHAIN_ID, { staticNetwork: true }) }));
  let running;
  try {
    running = await runGateway(env, deployment, provider, signer, { peers, anchorSigner });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(2);
  }
  closeOnSignals(async () => {
    await running.close();
    provider.destroy();
    for (const peer of peers) peer.provider.destroy();
  });
}

function asKey(hex: string): string {
  return hex.replace(/^(0x)?/, "0x");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
