import express, { type NextFunction, type Request, type Response } from "express";
import helmet from "helmet";
import { rateLimit, ipKeyGenerator } from "express-rate-limit";
import { randomUUID, timingSafeEqual } from "node:crypto";
import type { Logger } from "pino";
import { Registry, collectDefaultMetrics, Histogram } from "prom-client";
import type { ErrorBody } from "../../core/errorCodes";
import { GatewayError, invalidInput, unauthenticated } from "../errors";
import { mount, writeJson, type AnyRoute } from "./route";
import { strictJsonBody } from "./jsonBody";
import { RefusalEpisodes } from "./refusalLog";
import { buildOpenApi } from "./openapi";
import { v1Routes, type RouteDeps } from "./routes";

export interface AppDeps extends RouteDeps {
  authenticate: (token: string) => string | null;
  /** Ready once the index has caught up with the chain. */
  ready: () => { ready: boolean; detail: Record<string, unknown> };
  logger: Logger;
  bodyLimit: string;
  /** The deepest nesting a JSON body may have (default 64). */
  jsonMaxDepth?: number;
  /** Bearer token for /metrics; without one, /metrics is not served. */
  metricsToken?: string;
  rateLimitPerMinute: number;
  /** Static files (the wallet page) served at `/`, if built. */
  staticDir?: string;
  /** More routes mounted beside v1 (later steps). */
  extraRoutes?: AnyRoute[];
  /** Adds the gateway's own metrics to /metrics' registry. */
  registerMetrics?: (registry: Registry) => void;
}

/**
 * Every answer but the wallet page's files is JSON for programs: the headers OWASP's REST Security
 * Cheat Sheet asks of an API (nothing may be framed, sniffed, loaded or referred; HTTPS only), not
 * the ones that govern how a browser runs a document.
 */
const apiSecurityHeaders = helmet({
  contentSecurityPolicy: { useDefaults: false, directives: { "default-src": ["'none'"], "frame-ancestors": ["'none'"] } },
  xFrameOptions: { action: "deny" },
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
});

/** The wallet page: helmet's defaults for a document, and the page talks only to this gateway. */
const pageSecurityHeaders = helmet({ contentSecurityPolicy: { directives: { "connect-src": ["'self'"], "img-src": ["'self'", "data:"] } } });

/** Builds the gateway's HTTP app without listening: tests call it with real, small dependencies. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  // Answers are per caller and per instant (and may hold personal data): nothing to revalidate.
  app.set("etag", false);

  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  deps.registerMetrics?.(metrics);
  const httpDuration = new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request duration by route and status",
    labelNames: ["method", "route", "status"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    registers: [metrics],
  });

  const refusals = new RefusalEpisodes(deps.logger);
  app.use(apiSecurityHeaders);
  // Before the bearer layer: Prometheus's token is not a sign-in token.
  const metricsToken = deps.metricsToken ? Buffer.from(`Bearer ${deps.metricsToken}`) : null;
  app.get("/metrics", async (req: Request, res: Response, next: NextFunction) => {
    if (!metricsToken) return next();
    const given = Buffer.from(req.get("authorization") ?? "");
    if (given.length !== metricsToken.length || !timingSafeEqual(given, metricsToken)) return next(unauthenticated("/metrics needs the METRICS_TOKEN bearer token"));
    res.setHeader("content-type", metrics.contentType);
    res.send(await metrics.metrics());
  });
  // Request id, metrics and the caller, in one layer: express walks every layer for every request.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const given = req.get("x-request-id");
    res.locals.requestId = given && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
    res.setHeader("x-request-id", res.locals.requestId as string);
    const stop = httpDuration.startTimer({ method: req.method });
    res.on("finish", () => {
      stop({ route: (req.route?.path as string | undefined) ?? "unmatched", status: res.statusCode });
      // An outage ends when a request is served and the gateway says it is ready again.
      if (refusals.active && res.statusCode < 300 && req.path.startsWith("/v1/") && deps.ready().ready) refusals.served();
    });
    const header = req.get("authorization");
    res.locals.caller = null;
    if (header !== undefined) {
      const match = /^Bearer ([\w.-]+)$/.exec(header);
      const caller = match ? deps.authenticate(match[1]) : null;
      if (!caller) return next(unauthenticated("the bearer token is invalid or expired: sign in again"));
      res.locals.caller = caller;
    }
    next();
  });
  app.use(
    rateLimit({
      windowMs: 60_000,
      limit: deps.rateLimitPerMinute,
      // draft-7's combined header: draft-8's hashes the partition key on every request.
      standardHeaders: "draft-7",
      legacyHeaders: false,
      keyGenerator: (req: Request, res: Response) => (res.locals.caller as string | null) ?? ipKeyGenerator(req.ip ?? "unknown"),
      handler: (_req: Request, _res: Response, next: NextFunction) => next(new GatewayError("RATE_LIMITED", "too many requests: slow down")),
    }),
  );
  // Parsed only on the routes that take a body.
  const jsonBody = strictJsonBody({ limit: deps.bodyLimit, maxDepth: deps.jsonMaxDepth ?? 64 });
  const routes = [...v1Routes(deps), ...(deps.extraRoutes ?? [])];
  for (const r of routes) mount(app, r, jsonBody);

  const openapi = buildOpenApi(routes, { title: "data-use-ledger gateway", version: "1" });
  app.get("/openapi.json", (_req, res) => writeJson(res, 200, openapi));
  app.get("/healthz", (_req, res) => writeJson(res, 200, { ok: true }));
  app.get("/readyz", (_req, res) => {
    const { ready, detail } = deps.ready();
    writeJson(res, ready ? 200 : 503, { ready, ...detail });
  });
  if (deps.staticDir) {
    // Only on a file served: a path the page does not have falls through to the JSON 404 as it was.
    // Helmet sets its headers and calls next synchronously, so it runs inside serve-static's hook.
    const setHeaders = (res: Response) => pageSecurityHeaders(res.req, res, () => undefined);
    app.use(express.static(deps.staticDir, { index: "index.html", setHeaders }));
  }

  app.use((_req: Request, _res: Response, next: NextFunction) => next(new GatewayError("NOT_FOUND", "no such route")));
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const known = toGatewayError(error);
    if (known.status === 503) refusals.refused(known.code, known.message);
    else if (known.status >= 500) deps.logger.error({ err: error, requestId: res.locals.requestId }, "request failed");
    const body: ErrorBody = {
      error: { code: known.code, message: known.message, ...(known.issues !== undefined ? { issues: known.issues } : {}) },
      requestId: (res.locals.requestId as string | undefined) ?? "",
    };
    writeJson(res, known.status, body);
  });
  return app;
}

/** The one place that turns any thrown value into the gateway's error shape. */
function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  const e = error as { type?: string; status?: number };
  if (e?.type === "entity.too.large") return new GatewayError("PAYLOAD_TOO_LARGE", "the request body is too large");
  if (e?.type === "entity.parse.failed") return invalidInput("the request body is not valid JSON");
  if (typeof e?.status === "number" && e.status >= 400 && e.status < 500) return invalidInput("the request is malformed");
  return new GatewayError("INTERNAL", "internal error", { cause: error });
}
