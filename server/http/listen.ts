import { createServer, type RequestListener, type Server } from "node:http";
import { once } from "node:events";

/**
 * Listens with a bound on how long one request may take to arrive: a client that announces a body
 * and never sends it is answered 408 and closed, rather than holding its socket open.
 */
export async function listen(app: RequestListener, port: number, host: string, options: { requestTimeoutMs: number }): Promise<Server> {
  const server = createServer(
    {
      requestTimeout: options.requestTimeoutMs,
      headersTimeout: Math.min(options.requestTimeoutMs, 60_000),
      // Node checks the timeouts on this period (30 s by default): a short bound needs a short check.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(options.requestTimeoutMs / 4))),
    },
    app,
  );
  server.listen(port, host);
  await once(server, "listening");
  return server;
}
