import type { Signer } from "ethers";
import { SiweMessage } from "siwe";
import type { AuditEntry } from "../core/auditEntry";
import type { SignedCheckpoint } from "../server/store/types";

async function getJson<T>(url: string, token?: string): Promise<T> {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const body = (await res.json().catch(() => null)) as (T & { error?: { code: string; message: string } }) | null;
  if (!res.ok) throw new Error(`${url}: ${res.status} ${body?.error ? `${body.error.code}: ${body.error.message}` : ""}`);
  return body as T;
}

/** A refused sign-in, with the gateway's status and error body. */
export class SignInError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error?: { code: string; message: string } },
  ) {
    super(`sign-in failed: ${status} ${body.error?.code ?? ""} ${body.error?.message ?? ""}`);
  }
}

/**
 * Signs in to a gateway with Ethereum (EIP-4361) and returns the bearer token. The domain and chain
 * come from the gateway's /v1/config; `overrides` replace them (and the nonce) to test refusals.
 */
export async function signIn(base: string, signer: Signer, overrides: Partial<{ domain: string; chainId: number; nonce: string }> = {}): Promise<string> {
  const config = await getJson<{ domain: string; origin: string; chainId: number }>(`${base}/v1/config`);
  const nonce = overrides.nonce ?? (await getJson<{ nonce: string }>(`${base}/v1/auth/nonce`)).nonce;
  const message = new SiweMessage({
    domain: overrides.domain ?? config.domain,
    address: await signer.getAddress(),
    statement: "Sign in to the data-use-ledger gateway",
    uri: config.origin,
    version: "1",
    chainId: overrides.chainId ?? config.chainId,
    nonce,
    issuedAt: new Date().toISOString(),
  }).prepareMessage();
  const signature = await signer.signMessage(message);
  const res = await fetch(`${base}/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ message, signature }) });
  const body = (await res.json()) as { token?: string; error?: { code: string; message: string } };
  if (!body.token) throw new SignInError(res.status, body);
  return body.token;
}

/** An exported log: what `audit verify --log FILE` reads and `--save-log FILE` writes. */
export interface ExportedLog {
  entries: AuditEntry[];
  checkpoints: SignedCheckpoint[];
}

/** Downloads the whole log (as an auditor sees it) and every signed checkpoint. */
export async function fetchLog(base: string, token: string): Promise<ExportedLog> {
  const entries: AuditEntry[] = [];
  for (let from = 0; ; ) {
    const page = await getJson<{ entries: AuditEntry[]; treeSize: number; to: number }>(`${base}/v1/audit/entries?from=${from}`, token);
    entries.push(...page.entries);
    if (page.to >= page.treeSize || page.to === from) break;
    from = page.to;
  }
  const checkpoints: SignedCheckpoint[] = [];
  for (let fromSize = 0; ; ) {
    const page = await getJson<{ checkpoints: SignedCheckpoint[] }>(`${base}/v1/audit/checkpoints?fromSize=${fromSize}&limit=1000`);
    checkpoints.push(...page.checkpoints);
    if (page.checkpoints.length < 1000) break;
    fromSize = page.checkpoints[page.checkpoints.length - 1].treeSize + 1;
  }
  return { entries, checkpoints };
}
