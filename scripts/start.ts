import hre from "hardhat";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import { hexlify, NonceManager, Wallet, type Signer } from "ethers";
import { ConfigError, databasePathOf, parseEnv } from "../server/config/env";
import { deploymentPath, readDeployment } from "../core/deployment";
import { closeOnSignals, runGateway } from "../server/run";
import { loadMasterKey } from "../server/gateway";
import { checkpointNoteKey } from "../server/audit/noteKey";
import { deployLedger } from "./lib/deploy";
import { buildUi, uiNeedsBuild } from "./lib/buildUi";

/**
 * `npm start`: the whole product on the embedded default. A Hardhat chain with JSON-RPC on
 * 127.0.0.1:8545 (in memory: it starts empty each time), the contracts deployed on it (the same
 * addresses every time, from the same deployer and nonces), and the gateway with its SQLite store in
 * ./data serving the wallet page. Account #0 deploys, relays and, unless ANCHOR_PRIVATE_KEY names
 * another key, anchors: the one place the anchoring key defaults to the relaying key.
 */
async function main(): Promise<void> {
  let env;
  try {
    env = parseEnv({ OPERATOR_ADDRESSES: (await hre.ethers.getSigners())[9].address, ...process.env });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const rpcPort = Number(process.env.RPC_PORT ?? 8545);
  const rpc = await hre.run(TASK_NODE_CREATE_SERVER, { hostname: "127.0.0.1", port: rpcPort, provider: hre.network.provider });
  const { port: boundRpcPort } = await rpc.listen();

  const signers = await hre.ethers.getSigners();
  const anchorSigner: Signer = env.ANCHOR_PRIVATE_KEY
    ? new NonceManager(new Wallet(env.ANCHOR_PRIVATE_KEY.replace(/^(0x)?/, "0x"), hre.ethers.provider))
    : (signers[0] as unknown as Signer);
  const anchorer = await anchorSigner.getAddress();
  // The gateway's log is registered under the note key of its master key, with its staleness window.
  const masterKey = loadMasterKey(env, (message) => console.warn(message));
  const outFile = deploymentPath(process.cwd(), 31337);
  const previous = existsSync(outFile) ? readDeployment(outFile) : null;
  const deployment = await deployLedger(hre, {
    outFile,
    anchorers: [anchorer],
    noteKey: hexlify(checkpointNoteKey(masterKey).publicKey),
    maxHeadAgeSeconds: env.MAX_HEAD_AGE_SECONDS,
  });
  // After the deployment, so the contracts keep their addresses: gas for a separate anchoring key.
  if (anchorer !== signers[0].address) await (await signers[0].sendTransaction({ to: anchorer, value: 10n ** 18n })).wait();
  const reused = previous?.contracts.DataUseRegistry.address === deployment.contracts.DataUseRegistry.address;
  // Hardhat mines only on transactions: an idle local chain's head would age past
  // MAX_HEAD_AGE_SECONDS and the gateway would (rightly) fail closed. An empty block every few
  // seconds keeps the rule live here as a real chain's block time does.
  await hre.network.provider.send("evm_setIntervalMining", [Math.min(5000, (env.MAX_HEAD_AGE_SECONDS * 1000) / 3)]);

  // A fresh clone has no built page yet, and one built before a `git pull` would not match the
  // sources: build it then (about a second), so the printed URL opens the current wallet page.
  const uiDir = join(process.cwd(), "ui", "dist");
  if (uiNeedsBuild(uiDir)) await buildUi({ outDir: uiDir, minify: true });
  const running = await runGateway(env, deployment, hre.ethers.provider, signers[0] as unknown as Signer, { staticDir: uiDir, anchorSigner, masterKey });

  const accounts = (hre.network.config as { accounts: { mnemonic?: string } }).accounts;
  console.log(`
data-use-ledger is running on a local chain.

  Wallet page and gateway  ${running.url}/
  HTTP API (OpenAPI 3.1)   ${running.url}/openapi.json
  Chain JSON-RPC           http://127.0.0.1:${boundRpcPort}  (chain id 31337)
  DataUseRegistry          ${deployment.contracts.DataUseRegistry.address}${reused ? "  (same address as last run)" : ""}
  AuditAnchor              ${deployment.contracts.AuditAnchor.address}
  Deployment file          ${outFile}
  Store                    ${databasePathOf(env)}

Local accounts (Hardhat's public test mnemonic "${accounts.mnemonic ?? "test test ... junk"}"; never use them elsewhere):
  #0 ${signers[0].address}  gateway: deploys, relays${anchorer === signers[0].address ? ", anchors" : `; ${anchorer} anchors`}
  #1 ${signers[1].address}  a subject: import it into your wallet
  #2 ${signers[2].address}  a service
  #9 ${signers[9].address}  operator (OPERATOR_ADDRESSES)

Ctrl-C stops everything.`);

  closeOnSignals(async () => {
    await running.close();
    await rpc.close();
  });
  await new Promise(() => undefined);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
