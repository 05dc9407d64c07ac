import type { Request, RequestHandler, Response, Router } from "express";
import { z } from "zod";
import { invalidInput, unauthenticated } from "../errors";
import { ADDRESS, BYTES32 } from "../../core/ids";

export interface HandlerContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** The signed-in address (lower-case), or null on public routes. */
  caller: string | null;
  requestId: string;
}

export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: "get" | "put" | "post" | "delete";
  /** Express-style path, `/v1/subjects/:subject/data/:category`. */
  path: string;
  summary: string;
  tags: string[];
  auth: boolean;
  params?: P;
  query?: Q;
  body?: B;
  /** Status codes and descriptions this route answers with, for the OpenAPI document. */
  responses: Record<number, string>;
  handler: (ctx: HandlerContext<z.infer<P>, z.infer<Q>, z.infer<B>>, res: Response) => Promise<{ status?: number; body: unknown }>;
}

export type AnyRoute = RouteSpec<z.ZodType, z.ZodType, z.ZodType>;

/** Declares a route: its handler is typed by its own schemas, then it joins the untyped list. */
export const route = <P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(spec: RouteSpec<P, Q, B>): AnyRoute =>
  spec as unknown as AnyRoute;

function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, where: string): z.infer<T> {
  if (!schema) return undefined as z.infer<T>;
  const result = schema.safeParse(value ?? {});
  if (!result.success) {
    const first = result.error.issues[0];
    throw invalidInput(`invalid ${where}: ${first.path.join(".") || "(root)"}: ${first.message}`, result.error.issues);
  }
  return result.data;
}

/** Registers a route: its schemas validate the request, then the handler makes one service call. */
export function mount(router: Pick<Router, AnyRoute["method"]>, route: AnyRoute, bodyParser: RequestHandler): void {
  const handlers: RequestHandler[] = route.body ? [bodyParser] : [];
  router[route.method](route.path, ...handlers, async (req: Request, res: Response) => {
    const caller = (res.locals.caller as string | null | undefined) ?? null;
    if (route.auth && !caller) throw unauthenticated();
    const ctx = {
      params: parse(route.params, req.params, "path"),
      query: parse(route.query, req.query, "query"),
      body: parse(route.body, req.body, "body"),
      caller,
      requestId: res.locals.requestId as string,
    };
    const { status = 200, body } = await route.handler(ctx, res);
    // Personal data and per-instant decisions: no cache along the way may keep or replay them.
    res.setHeader("cache-control", "no-store");
    writeJson(res, status, body);
  });
}

/**
 * Every JSON answer of the gateway. Written as it is, not through express's res.json: with no ETag
 * and no Last-Modified there is no freshness to check, and Node sets the length (and leaves the
 * body out of a HEAD answer).
 */
export function writeJson(res: Response, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader("content-type", "application/json; charset=utf-8");
  res.end(JSON.stringify(body));
}

/** Zod schemas shared by the routes. */
export const schemas = {
  address: z
    .string()
    .regex(ADDRESS, "must be a 0x-prefixed 20-byte hex address")
    .transform((a) => a.toLowerCase()),
  bytes32: z
    .string()
    .regex(BYTES32, "must be 32 bytes of 0x-prefixed hex")
    .transform((a) => a.toLowerCase()),
  label: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces, e.g. contact.email or dpv:Marketing"),
  timestamp: z.coerce.number().int().positive().max(2 ** 48 - 1),
  signature: z.string().regex(/^0x([0-9a-fA-F]{2})+$/, "must be 0x-prefixed hex"),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
};
