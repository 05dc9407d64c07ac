import type { Server } from "node:http";
import type { Signer } from "ethers";
import type { RpcProvider } from "./chain/logs";
import type { PeerEndpoint } from "./chain/endpoints";
import pino from "pino";
import { publicUrlOf, type Env } from "./config/env";
import type { Deployment } from "../core/deployment";
import { createGateway, loadMasterKey, type Gateway } from "./gateway";
import { listen } from "./http/listen";

export interface RunningGateway {
  gateway: Gateway;
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Builds the gateway, catches up with the chain, then listens on HOST:PORT. */
export async function runGateway(
  env: Env,
  deployment: Deployment,
  provider: RpcProvider,
  signer: Signer,
  options: { staticDir?: string; peers?: PeerEndpoint[]; anchorSigner?: Signer | null; masterKey?: Buffer } = {},
): Promise<RunningGateway> {
  const logger = pino({ level: env.LOG_LEVEL });
  const masterKey = options.masterKey ?? loadMasterKey(env, (message) => logger.warn(message));
  const gateway = createGateway({ env, deployment, provider, signer, anchorSigner: options.anchorSigner, masterKey, logger, staticDir: options.staticDir, peers: options.peers });
  try {
    await gateway.start();
  } catch (error) {
    // The log writer's thread does not hold the process open (it is unref'd): hold it while the
    // gateway closes, or the process would end silently before the caller reports why it did not start.
    const hold = setInterval(() => undefined, 60_000);
    try {
      await gateway.stop();
    } finally {
      clearInterval(hold);
    }
    throw error;
  }
  const server = await listen(gateway.app, env.PORT, env.HOST, { requestTimeoutMs: env.REQUEST_TIMEOUT_MS });
  const url = publicUrlOf(env);
  logger.info({ url, indexedBlock: gateway.indexer.lastView()?.indexedBlock }, "gateway listening");
  let closing: Promise<void> | null = null;
  return {
    gateway,
    server,
    url,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections?.();
        await gateway.stop();
      })();
      return closing;
    },
  };
}

/** Closes `running` on SIGINT/SIGTERM, then exits 0. */
export function closeOnSignals(close: () => Promise<void>): void {
  const stop = (signal: string) => {
    process.stderr.write(`\n${signal}: shutting down\n`);
    close().then(
      () => process.exit(0),
      (error) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
}
