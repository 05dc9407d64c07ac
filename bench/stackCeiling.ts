import pino from "pino";
import { createApp, type AppDeps } from "../server/http/app";
import type { ReleasedData } from "../server/data/dataService";

/**
 * The gateway's own HTTP stack with nothing behind it: the same express app, middleware (request id,
 * metrics, helmet, bearer authentication, rate limit), routing and validation as the gateway, but a
 * release that answers a constant. Between the bare ceiling and the gateway, it shows how much of a
 * release's cost is the stack and how much is the release itself (decision, decryption, durable log).
 */
const released: ReleasedData = {
  subject: "0x" + "ab".repeat(20),
  category: "contact.email",
  purpose: "dpv:ServiceProvision",
  value: { email: "bench@example.org", name: "Bench Subject" },
  grant: { grantId: "0x" + "12".repeat(32), grantedAt: 1_700_000_000, expiresAt: 1_800_000_000, blockNumber: 12, txHash: "0x" + "34".repeat(32) },
  auditIndex: 12_345,
};
const unused = () => {
  throw new Error("not part of the stack ceiling");
};
const deps: AppDeps = {
  data: { release: async () => released, put: unused, delete: unused, list: unused },
  grants: { list: unused, check: unused },
  relayer: { relay: unused },
  auth: { newNonce: unused, login: unused },
  publicConfig: unused,
  authenticate: () => "0x" + "cd".repeat(20),
  ready: () => ({ ready: true, detail: {} }),
  logger: pino({ level: "silent" }),
  bodyLimit: "100kb",
  rateLimitPerMinute: 100_000_000,
};
createApp(deps).listen(Number(process.env.PORT), "127.0.0.1");
// Exits cleanly when the bench stops it, so that a --cpu-prof profile is written.
process.on("SIGTERM", () => process.exit(0));
