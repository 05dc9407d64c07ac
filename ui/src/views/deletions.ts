import { html, nothing, type TemplateResult } from "lit";
import { repeat } from "lit/directives/repeat.js";
import type { App } from "../app";
import type { OrderRow } from "../gateway";
import { badge, labelled, party, when, whenMs } from "./common";

/** Why the gateway deleted data (the `rule` of a deletion receipt). */
export function ruleWords(rule: string): string {
  switch (rule) {
    case "data-expiry":
      return "your deletion date arrived";
    case "on-demand":
      return "deleted on request";
    default:
      return rule || "deleted";
  }
}

/** Why a service was ordered to delete (a deletion order's `reason`). */
export function reasonWords(reason: string): string {
  switch (reason) {
    case "expired":
      return "the grant expired";
    case "revoked":
      return "you revoked the grant";
    case "revoked-all":
      return "you revoked everything of this service";
    case "data-expired":
      return "your deletion date arrived";
    case "data-deleted":
      return "you deleted the data";
    case "reorged":
      return "the chain dropped the grant after the service had the data";
    default:
      return reason;
  }
}

const ORDER_STATUS_WORDS: Record<OrderRow["status"], string> = {
  pending: "ordered, not delivered yet",
  delivered: "delivered, awaiting confirmation",
  acknowledged: "deletion confirmed",
  failed: "delivery failed",
};

export function deletionsView(app: App): TemplateResult {
  const { entries, orders } = app.state.snapshot!;
  const receipts = entries.filter((e) => e.kind === "deletion").reverse();
  const sorted = [...orders].sort((a, b) => b.createdAt - a.createdAt);
  return html`
    <div class="panel-head">
      <h2>Deletions</h2>
      <p class="lead">What the gateway deleted and why, and which services were ordered to delete their copies, and whether they confirmed.</p>
    </div>
    <h3>Receipts</h3>
    ${receipts.length === 0
      ? html`<p class="empty">Nothing of yours has been deleted yet.</p>`
      : html`<table class="rows receipts">
          <thead><tr><th scope="col">Deleted</th><th scope="col">Category</th><th scope="col">Why</th><th scope="col">Records</th><th scope="col">Receipt</th></tr></thead>
          <tbody>
            ${repeat(receipts, (e) => e.index, (e) => {
              const detail = (e.detail ?? {}) as { rule?: string; records?: number; expiresAt?: number };
              return html`<tr>
                <td data-label="Deleted">${whenMs(e.at)}</td>
                <th scope="row" data-label="Category">${labelled(app, e.category ?? "")}</th>
                <td data-label="Why" class="wide">${ruleWords(detail.rule ?? "")}${detail.expiresAt ? html` (set for ${when(detail.expiresAt)})` : nothing}</td>
                <td data-label="Records">${detail.records ?? "—"}</td>
                <td data-label="Receipt">access log entry #${e.index}</td>
              </tr>`;
            })}
          </tbody>
        </table>`}
    <h3>Orders to services</h3>
    ${sorted.length === 0
      ? html`<p class="empty">No service has been ordered to delete anything of yours.</p>`
      : html`<table class="rows orders">
          <thead>
            <tr><th scope="col">Service</th><th scope="col">Category</th><th scope="col">Purpose</th><th scope="col">Why</th><th scope="col">Ordered</th><th scope="col">Status</th></tr>
          </thead>
          <tbody>
            ${repeat(
              sorted,
              (o) => o.id,
              (o) => html`<tr data-order=${o.id}>
                <th scope="row" data-label="Service">${party(app, o.grantee)}</th>
                <td data-label="Category">${labelled(app, o.category)}</td>
                <td data-label="Purpose">${app.categoryTitle(o.purpose)}</td>
                <td data-label="Why" class="wide">${reasonWords(o.reason)} (${when(o.endedAt)})</td>
                <td data-label="Ordered">${whenMs(o.createdAt)}</td>
                <td data-label="Status" class="wide">
                  ${badge(`order-${o.status}`, ORDER_STATUS_WORDS[o.status])}
                  ${o.acknowledgedAt ? html`<div class="hint">confirmed ${whenMs(o.acknowledgedAt)}</div>` : o.deliveredAt ? html`<div class="hint">delivered ${whenMs(o.deliveredAt)}</div>` : nothing}
                </td>
              </tr>`,
            )}
          </tbody>
        </table>`}
  `;
}
