import { html, nothing, type TemplateResult } from "lit";
import type { Activity, App } from "../app";
import { shortHash } from "./common";

function stageText(a: Activity): string {
  switch (a.stage) {
    case "confirm":
      return a.via === "gasless"
        ? "Sign in your wallet. The gateway will submit your signature and pay the gas."
        : "Confirm the transaction in your wallet.";
    case "relaying":
      return a.via === "gateway" ? "Sending to the gateway…" : "Signed. The gateway is submitting it to the chain…";
    case "pending":
      return "Transaction pending: waiting to be mined…";
    case "indexing":
      return `Mined in block ${a.blockNumber}. Waiting for the gateway to read it…`;
    case "done":
      return a.blockNumber !== undefined ? `Done: mined in block ${a.blockNumber}.` : `Done. ${a.message ?? ""}`;
    case "rejected":
    case "failed":
      return a.message ?? "Failed.";
  }
}

const TONE: Record<Activity["stage"], string> = {
  confirm: "info",
  relaying: "info",
  pending: "info",
  indexing: "info",
  done: "success",
  rejected: "rejected",
  failed: "failed",
};

/** The state of the last change: wallet prompt (with what is being signed, in words), pending, mined, failed. */
export function activityPanel(app: App): TemplateResult | typeof nothing {
  const a = app.state.activity;
  if (!a) return nothing;
  const working = app.busy();
  const via = a.via === "gasless" ? "gasless, relayed by the gateway" : a.via === "wallet" ? "transaction from your wallet" : "gateway";
  return html`<section class="activity activity-${TONE[a.stage]}" data-activity=${a.seq} aria-labelledby="activity-title">
    <div class="activity-head">
      <h2 id="activity-title">${working ? html`<span class="spinner" aria-hidden="true"></span>` : nothing}${a.title} <span class="muted">(${via})</span></h2>
      ${working ? nothing : html`<button class="link" @click=${() => app.update({ activity: null })}>Dismiss</button>`}
    </div>
    <p class="activity-status" role=${a.stage === "failed" || a.stage === "rejected" ? "alert" : "status"}>${stageText(a)}</p>
    ${a.txHash ? html`<p class="muted">Transaction <span class="mono" title=${a.txHash}>${shortHash(a.txHash)}</span></p>` : nothing}
    ${a.typed
      ? html`<details open class="typed">
          <summary>What you are signing: <strong>${a.typed.primaryType}</strong> (EIP-712)</summary>
          <dl>
            ${a.typed.fields.map((f) => html`<div><dt>${f.name}</dt><dd>${f.value}</dd></div>`)}
          </dl>
        </details>`
      : nothing}
  </section>`;
}
