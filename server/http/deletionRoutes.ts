import { z } from "zod";
import { verifyMessage } from "ethers";
import { GatewayError, forbidden } from "../errors";
import type { Roles } from "../auth/roles";
import type { DeletionStore } from "../deletion/deletionStore";
import { ackMessage } from "../deletion/outbox";
import { logEntry } from "../audit/accessLog";
import type { Store } from "../store/types";
import { route, schemas as s, type AnyRoute } from "./route";

/** Services' registrations and deletion orders (step 3). */
export function deletionRoutes(deps: { deletions: DeletionStore; roles: Roles; log: Pick<Store, "appendLog" | "transaction"> }): AnyRoute[] {
  const { deletions, roles } = deps;
  return [
    route({
      method: "put",
      path: "/v1/services/me",
      summary: "Register or update the calling service: display name and deletion-order webhook",
      tags: ["services"],
      auth: true,
      body: z.object({ displayName: z.string().trim().min(1).max(80), webhookUrl: z.url({ protocol: /^https?$/ }).nullable().default(null) }),
      responses: { 200: "the registration", 400: "invalid input", 401: "not signed in" },
      handler: async ({ body, caller }) => {
        const service = { address: caller!, displayName: body.displayName, webhookUrl: body.webhookUrl, updatedAt: Date.now() };
        deletions.putService(service);
        return { body: service };
      },
    }),
    route({
      method: "get",
      path: "/v1/services",
      summary: "Registered services (webhook URLs only for operators and auditors)",
      tags: ["services"],
      auth: true,
      responses: { 200: "{ services }", 401: "not signed in" },
      handler: async ({ caller }) => {
        const all = deletions.listServices();
        const full = roles.seesEverything(caller!);
        return { body: { services: all.map((sv) => (full || sv.address === caller ? sv : { address: sv.address, displayName: sv.displayName })) } };
      },
    }),
    route({
      method: "get",
      path: "/v1/deletion-orders",
      summary: "Deletion orders; a subject sees its own, a service those addressed to it, operators and auditors all",
      tags: ["deletion"],
      auth: true,
      query: z.object({
        subject: s.address.optional(),
        grantee: s.address.optional(),
        status: z.enum(["pending", "delivered", "acknowledged", "failed"]).optional(),
        limit: s.limit,
        offset: s.offset,
      }),
      responses: { 200: "{ orders }", 400: "invalid input", 401: "not signed in" },
      handler: async ({ query, caller }) => ({
        body: { orders: deletions.listOrders({ ...query, party: roles.seesEverything(caller!) ? undefined : caller! }) },
      }),
    }),
    route({
      method: "post",
      path: "/v1/deletion-orders/:id/ack",
      summary: "The addressed service acknowledges it deleted its copies, with an EIP-191 signature",
      tags: ["deletion"],
      auth: true,
      params: z.object({ id: z.string().regex(/^[0-9a-f]{32}$/, "an order id") }),
      body: z.object({ signature: s.signature }),
      responses: { 200: "the acknowledged order", 400: "the signature is not the grantee's", 401: "not signed in", 403: "not the addressed service", 404: "no such order" },
      handler: async ({ params, body, caller, requestId }) => {
        const order = deletions.getOrder(params.id);
        if (!order) throw new GatewayError("NOT_FOUND", `no deletion order ${params.id}`);
        if (order.grantee !== caller) throw forbidden("only the service the order is addressed to may acknowledge it");
        let signer: string;
        try {
          signer = verifyMessage(ackMessage(order.id), body.signature).toLowerCase();
        } catch {
          signer = "";
        }
        if (signer !== order.grantee) throw new GatewayError("INVALID_SIGNATURE", `sign the text "${ackMessage(order.id)}" with the grantee's key`);
        // The acknowledgement and its log entry are written in one transaction.
        deps.log.transaction(() => {
          if (deletions.acknowledge(order.id, Date.now(), body.signature)) {
            deps.log.appendLog([
              logEntry({ kind: "deletion-ack", requestId, actor: caller, subject: order.subject, grantee: order.grantee, category: order.category, purpose: order.purpose, detail: { orderId: order.id, signature: body.signature } }),
            ]);
          }
        });
        return { body: deletions.getOrder(order.id) };
      },
    }),
  ];
}
