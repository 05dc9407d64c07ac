import { z } from "zod";
import type { MinedTransactions } from "../chain/receipts";
import { route, schemas as s, type AnyRoute } from "./route";

/** Routes about the chain itself: handing the gateway a mined transaction. */
export function chainRoutes(deps: { transactions: Pick<MinedTransactions, "submit"> }): AnyRoute[] {
  return [
    route({
      method: "post",
      path: "/v1/chain/transactions",
      summary: "Hand the gateway a mined DataUseRegistry transaction: its revocations, revokeAlls, shortened expiries and data expiries count at once, before the gateway's poll reads the block",
      tags: ["grants"],
      auth: false,
      body: z.object({ txHash: s.bytes32 }),
      responses: {
        200: "{ txHash, blockNumber, applied, indexed }",
        400: "invalid input",
        404: "TX_NOT_FOUND: no such mined transaction on the gateway's chain",
        422: "NOT_A_REGISTRY_TX: reverted, or no event of this deployment's registry",
        429: "RATE_LIMITED",
        503: "CHAIN_UNAVAILABLE: the node could not read it back; releases fail closed until the next poll",
      },
      handler: async ({ body }) => ({ body: await deps.transactions.submit(body.txHash) }),
    }),
  ];
}
