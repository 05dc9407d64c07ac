import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { ADDRESS, BYTES32 } from "./ids";

const address = z.string().regex(ADDRESS, "an address");
const deployedContract = z.object({
  address,
  blockNumber: z.number().int().nonnegative(),
  transactionHash: z.string().regex(BYTES32),
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
/** Where `deployments/<chainId>.json` lives under `root`: written by the deploy script, read by gateway and CLI. */
export function deploymentPath(root: string, chainId: number): string {
  return join(root, "deployments", `${chainId}.json`);
}

export function readDeployment(path: string): Deployment {
  const parsed = deploymentSchema.safeParse(JSON.parse(readFileSync(path, "utf8")));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${path}: ${issue.path.join(".")}: ${issue.message}`);
  }
  return parsed.data;
}
