import pino from "pino";
import { createWitness } from "../../server/witness/witnessServer";

/**
 * A witness in a process of its own for the bench, as `dul witness` runs one: state and key under
 * WITNESS_DIR, trusting the log key LOG_KEY, on HOST:PORT. Stops on SIGTERM.
 */
const { server } = createWitness({
  dataDir: `${process.env.WITNESS_DIR}/state`,
  keyFile: `${process.env.WITNESS_DIR}/witness.key`,
  name: process.env.WITNESS_NAME ?? "bench/witness",
  logKeys: [process.env.LOG_KEY!],
  logger: pino({ level: "warn" }),
});
server.listen(Number(process.env.PORT), process.env.HOST ?? "127.0.0.1");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
