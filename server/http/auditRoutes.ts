import { z } from "zod";
import { withCosignatures } from "../../core/checkpoint";
import { GatewayError, forbidden } from "../errors";
import type { Roles } from "../auth/roles";
import type { AuditLog } from "../audit/auditLog";
import type { AccessLogStore } from "../store/types";
import { route, schemas as s, type AnyRoute } from "./route";

const MAX_PAGE = 1000;
const index = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** The verifiable access log (step 4): entries, signed checkpoints, anchors and proofs. */
export function auditRoutes(deps: { audit: AuditLog; log: Pick<AccessLogStore, "readLog" | "durableLogSize">; roles: Roles }): AnyRoute[] {
  const { audit, roles } = deps;
  return [
    route({
      method: "get",
      path: "/v1/audit/checkpoint",
      summary: "The latest signed checkpoint (origin, tree size, root, EIP-191 signature, C2SP signed note with the witnesses' cosignatures) and the latest on-chain anchor",
      tags: ["audit"],
      auth: false,
      responses: { 200: "{ origin, treeSize, rootHash, note, signature, signer, signedAt, signedNote, cosignatures, cosignedNote, anchor }", 404: "nothing signed yet" },
      handler: async () => {
        const checkpoint = audit.latestCheckpoint();
        if (!checkpoint) throw new GatewayError("NOT_FOUND", "no checkpoint has been signed yet");
        // The note as a C2SP client reads it: the log's signature line, then every cosignature line.
        const cosignedNote = checkpoint.signedNote ? withCosignatures(checkpoint.signedNote, checkpoint.cosignatures ?? []) : null;
        return { body: { ...checkpoint, cosignedNote, anchor: audit.latestAnchor() } };
      },
    }),
    route({
      method: "get",
      path: "/v1/audit/checkpoints",
      summary: "Every signed checkpoint from a tree size on, oldest first",
      tags: ["audit"],
      auth: false,
      query: z.object({ fromSize: index.default(0), limit: s.limit }),
      responses: { 200: "{ checkpoints }", 400: "invalid input" },
      handler: async ({ query }) => ({ body: { checkpoints: audit.listCheckpoints(query.fromSize, query.limit) } }),
    }),
    route({
      method: "get",
      path: "/v1/audit/entries",
      summary: "Log entries [from, to), at most 1,000; auditors and operators see all, others the entries naming them",
      tags: ["audit"],
      auth: true,
      query: z
        .object({ from: index.default(0), to: index.optional() })
        .refine((q) => q.to === undefined || q.to >= q.from, { message: "to must not be below from" }),
      responses: { 200: "{ entries, treeSize }", 400: "invalid input", 401: "not signed in" },
      handler: async ({ query, caller }) => {
        // Only entries already on disk: one served and then lost to a power cut would reappear
        // rewritten under the same index.
        const treeSize = await deps.log.durableLogSize();
        // `to` is where the next page starts; never below `from`, even past the end of the log.
        const to = Math.max(query.from, Math.min(query.to ?? treeSize, query.from + MAX_PAGE, treeSize));
        const party = roles.seesEverything(caller!) ? undefined : caller!;
        return { body: { entries: deps.log.readLog(query.from, to, party), treeSize, to } };
      },
    }),
    route({
      method: "get",
      path: "/v1/audit/proof/inclusion",
      summary: "The RFC 6962 inclusion proof of entry `index` in the tree of `treeSize` entries",
      tags: ["audit"],
      auth: false,
      query: z.object({ index, treeSize: index }),
      responses: { 200: "{ index, treeSize, leafHash, proof }", 400: "index or size out of range" },
      handler: async ({ query }) => ({ body: audit.inclusionProof(query.index, query.treeSize, await deps.log.durableLogSize()) }),
    }),
    route({
      method: "get",
      path: "/v1/audit/releases/:auditIndex/proof",
      summary: "For the service a release went to: its log entry, the latest signed checkpoint covering it, and the inclusion proof",
      tags: ["audit"],
      auth: true,
      params: z.object({ auditIndex: index }),
      responses: {
        200: "{ entry, checkpoint, proof: { index, treeSize, leafHash, proof } }",
        400: "invalid input",
        401: "not signed in",
        403: "the entry is not a release to the caller",
        409: "NOT_YET_CHECKPOINTED: no signed checkpoint covers the entry yet; ask again after the next one",
      },
      handler: async ({ params, caller }) => {
        const auditIndex = params.auditIndex;
        // The checkpoint first: the durable size read after it covers every entry it signed.
        const checkpoint = audit.latestCheckpoint();
        const durable = await deps.log.durableLogSize();
        const [entry] = auditIndex < durable ? deps.log.readLog(auditIndex, auditIndex + 1) : [];
        // One answer for "no such entry" and "not yours": a service learns nothing of others' entries.
        if (!entry || entry.kind !== "release" || entry.grantee !== caller) throw forbidden(`entry ${auditIndex} is not a release to ${caller}`);
        if (!checkpoint || checkpoint.treeSize <= auditIndex) {
          throw new GatewayError("NOT_YET_CHECKPOINTED", `no signed checkpoint covers entry ${auditIndex} yet (latest size ${checkpoint?.treeSize ?? 0}); ask again after the next one`);
        }
        return { body: { entry, checkpoint, proof: audit.inclusionProof(auditIndex, checkpoint.treeSize, durable) } };
      },
    }),
    route({
      method: "get",
      path: "/v1/audit/proof/consistency",
      summary: "The RFC 6962 consistency proof between the trees of `from` and `to` entries",
      tags: ["audit"],
      auth: false,
      query: z.object({ from: index, to: index }),
      responses: { 200: "{ from, to, proof }", 400: "sizes out of range" },
      handler: async ({ query }) => ({ body: audit.consistencyProof(query.from, query.to, await deps.log.durableLogSize()) }),
    }),
  ];
}
