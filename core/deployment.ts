import { readFileSync } from "node:fs";
import { z } from "zod";

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "an address");
const deployedContract = z.object({
  address,
  blockNumber: z.number().int().nonnegative(),
  transactionHash: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  artifact: z.string(),
});

/** The shape of `deployments/<chainId>.json`, written by scripts/deploy.ts. */
export const deploymentSchema = z.object({
  chainId: z.number().int().positive(),
  deployedAt: z.string(),
  deployer: address,
  contracts: z.object({
    DataUseRegistry: deployedContract,
    AuditAnchor: deployedContract,
  }),
});

export type Deployment = z.infer<typeof deploymentSchema>;

/** Reads and validates a deployment file; throws with the file name and the first problem. */
export function readDeployment(path: string): Deployment {
  const parsed = deploymentSchema.safeParse(JSON.parse(readFileSync(path, "utf8")));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${path}: ${issue.path.join(".")}: ${issue.message}`);
  }
  return parsed.data;
}
