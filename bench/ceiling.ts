import express from "express";

/**
 * The ceiling of the HTTP stack on this machine: express answering a constant JSON, run as its own
 * process exactly as the gateway is, so that the release figure is compared like with like.
 */
const app = express();
app.disable("x-powered-by");
app.get("/constant", (_req, res) => void res.json({ ok: true, value: { email: "bench@example.org" } }));
app.get("/healthz", (_req, res) => void res.json({ ok: true }));
app.listen(Number(process.env.PORT), "127.0.0.1");
// Exits cleanly when the bench stops it, so that a --cpu-prof profile is written.
process.on("SIGTERM", () => process.exit(0));
