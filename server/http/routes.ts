import { z } from "zod";
import type { SiweAuth } from "../auth/siwe";
import type { DataService } from "../data/dataService";
import type { GrantService } from "../grants/grantService";
import type { Relayer } from "../chain/relayer";
import { route, schemas as s, type AnyRoute } from "./route";

export interface RouteDeps {
  auth: Pick<SiweAuth, "newNonce" | "login">;
  data: Pick<DataService, "put" | "release" | "delete" | "list">;
  grants: Pick<GrantService, "list" | "check">;
  relayer: Pick<Relayer, "relay">;
  /** What a client needs to talk to this gateway's chain: chain id, SIWE domain, contract addresses, the gateway's own address. */
  publicConfig: () => Promise<PublicConfig>;
}

export interface PublicConfig {
  chainId: number;
  domain: string;
  /** The gateway's origin: the URI a sign-in message names. */
  origin: string;
  gatewayAddress: string;
  /** The address whose EIP-191 signature each checkpoint carries: the anchoring key's (the relaying key's without one). */
  checkpointSigner: string;
  contracts: Record<"DataUseRegistry" | "AuditAnchor", { address: string; blockNumber: number }>;
}

const subjectCategory = z.object({ subject: s.address, category: s.label });
const deny = { 400: "invalid input", 401: "not signed in", 403: "no valid grant (NO_GRANT, GRANT_REVOKED, GRANT_EXPIRED, DATA_EXPIRED)" };

const relayBody = z.discriminatedUnion("action", [
  z.object({ action: z.literal("grant"), subject: s.address, grantee: s.address, category: s.label, purpose: s.label, expiresAt: s.timestamp, deadline: s.timestamp, signature: s.signature }),
  z.object({ action: z.literal("changeExpiry"), subject: s.address, grantId: s.bytes32, expiresAt: s.timestamp, deadline: s.timestamp, signature: s.signature }),
  z.object({ action: z.literal("revoke"), subject: s.address, grantId: s.bytes32, deadline: s.timestamp, signature: s.signature }),
  z.object({ action: z.literal("revokeAll"), subject: s.address, grantee: s.address, deadline: s.timestamp, signature: s.signature }),
  z.object({ action: z.literal("setDataExpiry"), subject: s.address, category: s.label, expiresAt: z.coerce.number().int().min(0).max(2 ** 48 - 1), deadline: s.timestamp, signature: s.signature }),
]);

/** Every v1 route: a schema and one service call each. */
export function v1Routes(deps: RouteDeps): AnyRoute[] {
  return [
    route({
      method: "get",
      path: "/v1/config",
      summary: "The chain id, SIWE domain, contract addresses, the gateway's relaying address and the address that signs its checkpoints and anchors them",
      tags: ["meta"],
      auth: false,
      responses: { 200: "{ chainId, domain, gatewayAddress, checkpointSigner, contracts }" },
      handler: async () => ({ body: await deps.publicConfig() }),
    }),
    route({
      method: "get",
      path: "/v1/auth/nonce",
      summary: "A single-use nonce for a Sign-In with Ethereum message",
      tags: ["auth"],
      auth: false,
      responses: { 200: "{ nonce }" },
      handler: async () => ({ body: { nonce: deps.auth.newNonce() } }),
    }),
    route({
      method: "post",
      path: "/v1/auth/login",
      summary: "Exchange a signed EIP-4361 message for a short-lived bearer token",
      tags: ["auth"],
      auth: false,
      body: z.object({ message: z.string().min(1).max(4096), signature: s.signature }),
      responses: { 200: "{ token, address, expiresAt }", 400: "invalid input", 401: "bad signature, domain, chain or nonce" },
      handler: async ({ body }) => ({ body: await deps.auth.login(body.message, body.signature) }),
    }),
    route({
      method: "put",
      path: "/v1/subjects/:subject/data/:category",
      summary: "Store (encrypted) a subject's data of a category; operator or the subject itself",
      tags: ["data"],
      auth: true,
      params: subjectCategory,
      body: z.object({ value: z.json() }),
      responses: { 200: "replaced", 201: "created", 400: "invalid input", 401: "not signed in", 403: "not the subject or an operator" },
      handler: async ({ params, body, caller, requestId }) => {
        const { created, auditIndex } = await deps.data.put(caller!, params.subject, params.category, body.value, requestId);
        return { status: created ? 201 : 200, body: { subject: params.subject, category: params.category, created, auditIndex } };
      },
    }),
    route({
      method: "get",
      path: "/v1/subjects/:subject/data/:category",
      summary: "Release a subject's data to the calling service under a grant valid now",
      tags: ["data"],
      auth: true,
      params: subjectCategory,
      query: z.object({ purpose: s.label }),
      responses: { 200: "{ subject, category, purpose, value, grant, auditIndex }", ...deny, 404: "NO_DATA", 503: "INDEX_STALE" },
      handler: async ({ params, query, caller, requestId }) => ({
        body: await deps.data.release(caller!, params.subject, params.category, query.purpose, requestId),
      }),
    }),
    route({
      method: "delete",
      path: "/v1/subjects/:subject/data/:category",
      summary: "Delete a category of a subject's data now; the subject or an operator",
      tags: ["data"],
      auth: true,
      params: subjectCategory,
      responses: { 200: "{ deleted, auditIndex, orders }", 401: "not signed in", 403: "not the subject or an operator" },
      handler: async ({ params, caller, requestId }) => ({ body: await deps.data.delete(caller!, params.subject, params.category, requestId) }),
    }),
    route({
      method: "get",
      path: "/v1/subjects/:subject/data",
      summary: "The categories held for a subject (no values)",
      tags: ["data"],
      auth: true,
      params: z.object({ subject: s.address }),
      responses: { 200: "{ records }", 401: "not signed in", 403: "not the subject, an operator or an auditor" },
      handler: async ({ params, caller }) => ({ body: { records: deps.data.list(caller!, params.subject) } }),
    }),
    route({
      method: "get",
      path: "/v1/grants",
      summary: "Grants from the index; a service sees grants naming it, a subject its own, operators and auditors all",
      tags: ["grants"],
      auth: true,
      query: z.object({
        subject: s.address.optional(),
        grantee: s.address.optional(),
        category: s.label.optional(),
        purpose: s.label.optional(),
        status: z.enum(["active", "all"]).default("active"),
        limit: s.limit,
        offset: s.offset,
      }),
      responses: { 200: "{ grants, indexedBlock }: each grant with its status by the release rule", 400: "invalid input", 401: "not signed in", 503: "INDEX_STALE: the index was never read" },
      handler: async ({ query, caller }) => ({ body: deps.grants.list(caller!, query) }),
    }),
    route({
      method: "get",
      path: "/v1/grants/check",
      summary: "Whether a grant is valid now, decided from the index",
      tags: ["grants"],
      auth: true,
      query: z.object({ subject: s.address, grantee: s.address, category: s.label, purpose: s.label }),
      responses: { 200: "{ allowed, reason, expiresAt, indexedBlock }", 400: "invalid input", 401: "not signed in", 403: "not a party", 503: "INDEX_STALE" },
      handler: async ({ query, caller }) => {
        const decision = deps.grants.check(caller!, query.subject, query.grantee, query.category, query.purpose);
        return { body: { allowed: decision.allowed, reason: decision.reason, expiresAt: decision.expiresAt, indexedBlock: decision.indexedBlock } };
      },
    }),
    route({
      method: "post",
      path: "/v1/relay",
      summary: "Submit a subject's EIP-712-signed action from the gateway's key (gasless for the subject)",
      tags: ["grants"],
      auth: false,
      body: relayBody,
      responses: { 202: "{ txHash }", 400: "invalid input or the registry would reject the signature (INVALID_SIGNATURE)", 502: "RELAY_FAILED", 503: "CHAIN_UNAVAILABLE" },
      handler: async ({ body }) => ({ status: 202, body: await deps.relayer.relay(body) }),
    }),
  ];
}

