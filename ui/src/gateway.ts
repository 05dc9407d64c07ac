import type { ErrorBody, ErrorCode } from "../../core/errorCodes";
import type { PublicConfig } from "../../server/http/routes";
import type { RelayRequest } from "../../server/chain/relayer";
import type { AnchorRecord, SignedCheckpoint } from "../../server/store/types";
import type { ListedGrant } from "../../server/grants/grantService";
import type { AuditEntry } from "../../core/auditEntry";
import type { DeletionOrder, Service } from "../../server/deletion/deletionStore";
import type { Session } from "../../server/auth/siwe";
import type { DataService, RecordSummary } from "../../server/data/dataService";
import type { AuditLog } from "../../server/audit/auditLog";

export type { AuditEntry, PublicConfig, RelayRequest, Session };

export type GrantRow = ListedGrant;
export type ServiceRow = Pick<Service, "address" | "displayName">;
export type OrderRow = DeletionOrder;
/** A category of data held for the subject, without its value. */
export type DataRecord = RecordSummary;

/** The gateway's latest signed checkpoint of its access log, and the latest on-chain anchor it knows. */
export type Checkpoint = SignedCheckpoint & { anchor: AnchorRecord | null };

/** An answer of the gateway other than 2xx, with its machine-readable code. */
export class GatewayRequestError extends Error {
  override readonly name = "GatewayRequestError";

  constructor(
    readonly status: number,
    readonly code: ErrorCode | "NETWORK",
    message: string,
    readonly issues?: unknown,
  ) {
    super(message);
  }
}

/** The gateway's HTTP API as the page uses it (same origin). */
export class GatewayClient {
  private token: string | null = null;

  constructor(private readonly base = "") {}

  setToken(token: string | null): void {
    this.token = token;
  }

  config = () => this.request<PublicConfig>("GET", "/v1/config");
  nonce = () => this.request<{ nonce: string }>("GET", "/v1/auth/nonce");
  login = (message: string, signature: string) => this.request<Session>("POST", "/v1/auth/login", { message, signature });

  records = (subject: string) => this.request<{ records: DataRecord[] }>("GET", `/v1/subjects/${subject}/data`);
  storeRecord = (subject: string, category: string, value: unknown) =>
    this.request<{ created: boolean }>("PUT", `/v1/subjects/${subject}/data/${encodeURIComponent(category)}`, { value });
  deleteRecord = (subject: string, category: string) =>
    this.request<Awaited<ReturnType<DataService["delete"]>>>("DELETE", `/v1/subjects/${subject}/data/${encodeURIComponent(category)}`);

  grants = (subject: string) => this.request<{ grants: GrantRow[]; indexedBlock: number | null }>("GET", `/v1/grants?subject=${subject}&status=all&limit=1000`);
  indexedBlock = (subject: string) =>
    this.request<{ indexedBlock: number | null }>("GET", `/v1/grants?subject=${subject}&limit=1`).then((r) => r.indexedBlock);
  services = () => this.request<{ services: ServiceRow[] }>("GET", "/v1/services");
  orders = (subject: string) => this.request<{ orders: OrderRow[] }>("GET", `/v1/deletion-orders?subject=${subject}&limit=1000`);
  relay = (body: RelayRequest) => this.request<{ txHash: string }>("POST", "/v1/relay", body);
  /** Hands the gateway a mined registry transaction: its revocations count at once, before the gateway's poll reads the block. */
  handOver = (txHash: string) => this.request<{ applied: unknown[]; indexed: boolean }>("POST", "/v1/chain/transactions", { txHash });

  /** A page of the log entries naming the caller from `from` on; `to` is where the next page starts. */
  auditEntries = (from: number) => this.request<{ entries: AuditEntry[]; treeSize: number; to: number }>("GET", `/v1/audit/entries?from=${from}`);
  checkpoint = () => this.request<Checkpoint>("GET", "/v1/audit/checkpoint");
  inclusionProof = (index: number, treeSize: number) => this.request<ReturnType<AuditLog["inclusionProof"]>>("GET", `/v1/audit/proof/inclusion?index=${index}&treeSize=${treeSize}`);

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          accept: "application/json",
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    } catch (error) {
      throw new GatewayRequestError(0, "NETWORK", `the gateway could not be reached (${(error as Error).message})`);
    }
    const text = await res.text();
    const parsed = text ? safeJson(text) : null;
    if (!res.ok) {
      const err = (parsed as Partial<ErrorBody> | null)?.error;
      throw new GatewayRequestError(res.status, err?.code ?? "INTERNAL", err?.message ?? `HTTP ${res.status}`, err?.issues);
    }
    return parsed as T;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
