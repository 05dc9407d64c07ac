import { join } from "node:path";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import pino from "pino";
import type { Deployment } from "../../core/deployment";
import { createWitness } from "../../server/witness/witnessServer";
import type { Witness } from "../../server/witness/witness";
import { removeDir, startTestGateway } from "./gateway";

export interface TestWitness {
  witness: Witness;
  url: string;
  close(): Promise<void>;
}

export const closeServer = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** A real witness on an ephemeral loopback port, its state and key under `dir`, trusting `logKey`. */
export async function startWitness(dir: string, name: string, logKey: string): Promise<TestWitness> {
  const { witness, server } = createWitness({ dataDir: join(dir, name), keyFile: join(dir, `${name}.key`), name: `witness.test/${name}`, logKeys: [logKey], logger: pino({ level: "silent" }) });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { witness, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => closeServer(server) };
}

/** The verifier key of the log a test gateway over `deployment` signs as (its master key is the helpers'). */
export async function logKeyOf(deployment: Deployment): Promise<string> {
  const probe = await startTestGateway({ deployment, env: { CHECKPOINT_INTERVAL_MS: "100000", ANCHOR_INTERVAL_MS: "100000" } });
  try {
    return probe.gateway.audit.verifierKey;
  } finally {
    await probe.close();
    removeDir(probe.dataDir);
  }
}
