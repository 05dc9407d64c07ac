import type { Logger } from "pino";
import { logEntry } from "../audit/accessLog";
import type { Signer } from "ethers";
import type { Store } from "../store/types";
import type { DeletionOrder, DeletionStore } from "./deletionStore";

export interface OutboxOptions {
  intervalMs: number;
  maxAttempts: number;
  baseDelayMs: number;
  timeoutMs: number;
  concurrency: number;
}

/** The JSON a service receives, signed (EIP-191) by the gateway's key over the exact body bytes. */
export interface DeletionOrderMessage {
  type: "data-use-ledger/deletion-order";
  orderId: string;
  subject: string;
  grantee: string;
  category: string;
  purpose: string;
  grantId: string;
  reason: string;
  endedAt: number;
  issuedAt: number;
  ackUrl: string;
}

/** What a service signs (EIP-191) to acknowledge an order. */
export const ackMessage = (orderId: string): string => `data-use-ledger: deletion order ${orderId} carried out`;

/**
 * Delivers deletion orders from the persistent outbox to services' webhooks: signed, retried with
 * exponential backoff up to a limit, each delivery and failure recorded in the access log. A
 * service de-duplicates by `orderId`.
 */
export class DeletionOutbox {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private gatewayAddress: string | null = null;

  constructor(
    private readonly deps: {
      deletions: DeletionStore;
      /** The order's new state and its log entry are written in one transaction. */
      log: Pick<Store, "appendLog" | "transaction">;
      signer: Signer;
      publicUrl: string;
      logger: Logger;
    },
    private readonly options: OutboxOptions,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.deliverDue().catch((error) => this.deps.logger.error({ err: error }, "outbox run failed")), this.options.intervalMs);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** Attempts every order that is due now; concurrent calls share one run. Returns deliveries made. */
  deliverDue(): Promise<number> {
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async run(): Promise<number> {
    this.gatewayAddress ??= (await this.deps.signer.getAddress()).toLowerCase();
    const due = this.deps.deletions.dueOrders(Date.now(), 500);
    let delivered = 0;
    for (let i = 0; i < due.length; i += this.options.concurrency) {
      const results = await Promise.all(due.slice(i, i + this.options.concurrency).map((order) => this.attempt(order)));
      delivered += results.filter(Boolean).length;
    }
    return delivered;
  }

  private async attempt(order: DeletionOrder & { webhookUrl: string }): Promise<boolean> {
    const message: DeletionOrderMessage = {
      type: "data-use-ledger/deletion-order",
      orderId: order.id,
      subject: order.subject,
      grantee: order.grantee,
      category: order.category,
      purpose: order.purpose,
      grantId: order.grantId,
      reason: order.reason,
      endedAt: order.endedAt,
      issuedAt: order.createdAt,
      ackUrl: `${this.deps.publicUrl}/v1/deletion-orders/${order.id}/ack`,
    };
    const body = JSON.stringify(message);
    let error: string | null = null;
    try {
      const signature = await this.deps.signer.signMessage(body);
      const res = await fetch(order.webhookUrl, {
        method: "POST",
        headers: { "content-type": "application/json", "x-dul-signature": signature, "x-dul-signer": this.gatewayAddress! },
        body,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) error = `webhook answered ${res.status}`;
    } catch (e) {
      error = (e as Error).message;
    }
    const now = Date.now();
    const logged = (kind: string, detail: Record<string, unknown>) =>
      logEntry({ kind, requestId: `outbox:${order.id}:${order.attempts + 1}`, at: now, subject: order.subject, grantee: order.grantee, category: order.category, purpose: order.purpose, detail });
    if (error === null) {
      this.deps.log.transaction(() => {
        if (this.deps.deletions.markDelivered(order.id, now)) {
          this.deps.log.appendLog([logged("deletion-delivered", { orderId: order.id, attempt: order.attempts + 1 })]);
        }
      });
      return true;
    }
    const attempts = order.attempts + 1;
    const giveUp = attempts >= this.options.maxAttempts;
    const nextAttemptAt = now + this.options.baseDelayMs * 2 ** (attempts - 1);
    this.deps.log.transaction(() => {
      this.deps.deletions.markAttemptFailed(order.id, nextAttemptAt, error, giveUp);
      this.deps.log.appendLog([logged(giveUp ? "deletion-failed" : "deletion-delivery-failed", { orderId: order.id, attempt: attempts, error })]);
    });
    return false;
  }
}
