import { html, nothing, type TemplateResult } from "lit";
import { repeat } from "lit/directives/repeat.js";
import type { App, VerifyState } from "../app";
import type { AuditEntry } from "../gateway";
import { party, shortAddress, shortHash, whenMs } from "./common";
import { reasonWords, ruleWords } from "./deletions";

/** An access-log entry in words. */
function entryWords(app: App, e: AuditEntry): string {
  const cat = e.category ? `your ${app.categoryTitle(e.category)}` : "your data";
  const purpose = e.purpose ? app.categoryTitle(e.purpose).toLowerCase() : "";
  const detail = (e.detail ?? {}) as Record<string, unknown>;
  switch (e.kind) {
    case "release":
      return `Read ${cat} for ${purpose}`;
    case "write":
      return `${e.actor === app.state.account ? "You stored" : "Stored"} ${cat}`;
    case "deletion":
      return `Deleted ${cat}: ${ruleWords(String(detail.rule ?? ""))}`;
    case "deletion-order":
      return `Ordered to delete ${cat}: ${reasonWords(String(detail.reason ?? ""))}`;
    case "deletion-delivered":
      return "Received the order to delete its copy";
    case "deletion-delivery-failed":
      return "Could not be reached with a deletion order (retrying)";
    case "deletion-failed":
      return "Deletion order delivery gave up";
    case "deletion-ack":
      return `Confirmed it deleted its copy of ${cat}`;
    default:
      return e.kind;
  }
}

export function historyView(app: App): TemplateResult {
  const { entries, auditAvailable, checkpoint } = app.state.snapshot!;
  const rows = [...entries].reverse();
  return html`
    <div class="panel-head">
      <h2>Who used my data</h2>
      <p class="lead">Every read of your data is written to the gateway's append-only access log before the data leaves. Check any entry yourself: your browser verifies its Merkle proof against the gateway's signed checkpoint and against the roots anchored on-chain.</p>
    </div>
    ${checkpoint
      ? html`<p class="checkpoint">
          Latest signed checkpoint: <strong>${checkpoint.treeSize}</strong> entries, root <span class="mono" title=${checkpoint.rootHash}>${shortHash(checkpoint.rootHash)}</span>,
          signed by <span class="mono" title=${checkpoint.signer}>${shortAddress(checkpoint.signer)}</span>.
          ${checkpoint.anchor ? html`Anchored on-chain up to ${checkpoint.anchor.treeSize} entries (block ${checkpoint.anchor.blockNumber}).` : html`Not anchored on-chain yet.`}
        </p>`
      : nothing}
    ${!auditAvailable
      ? html`<p class="empty">This gateway does not serve its access log.</p>`
      : rows.length === 0
        ? html`<p class="empty">No one has used your data yet.</p>`
        : html`<table class="rows history">
            <thead>
              <tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Under grant</th><th scope="col">Proof</th></tr>
            </thead>
            <tbody>
              ${repeat(rows, (e) => e.index, (e) => entryRow(app, e))}
            </tbody>
          </table>`}
  `;
}

function entryRow(app: App, e: AuditEntry): TemplateResult {
  const who = e.grantee ?? e.actor;
  return html`<tr class=${`kind-${e.kind}`} data-index=${e.index}>
    <td data-label="When">${whenMs(e.at)} <span class="label">#${e.index}</span></td>
    <th scope="row" data-label="Who">${who ? (who === app.state.account ? "You" : party(app, who)) : html`<span class="muted">the gateway</span>`}</th>
    <td data-label="What" class="wide">${entryWords(app, e)}</td>
    <td data-label="Under grant">${e.grantBlock !== null ? html`block ${e.grantBlock}${e.grantTx ? html` <span class="mono label" title=${e.grantTx}>${shortHash(e.grantTx)}</span>` : nothing}` : html`<span class="muted">—</span>`}</td>
    <td data-label="Proof" class="proof wide">
      <button class="secondary" @click=${() => void app.verify(e)} aria-describedby=${`verify-${e.index}`}>Verify</button>
      <div id=${`verify-${e.index}`} role="status">${verification(app.state.verifications.get(e.index))}</div>
    </td>
  </tr>`;
}

function verification(v: VerifyState | undefined): TemplateResult | typeof nothing {
  if (!v) return nothing;
  if (v.state === "checking") return html`<span class="muted"><span class="spinner" aria-hidden="true"></span>Checking…</span>`;
  if (v.state === "error") return html`<span class="bad">${v.message}</span>`;
  const { checkpoint, anchor } = v.result;
  const cp = !checkpoint
    ? html`<span class="muted">Not in a signed checkpoint yet; try again in a moment.</span>`
    : !checkpoint.signatureValid
      ? html`<span class="bad">✗ The checkpoint's signature is not the gateway's.</span>`
      : checkpoint.included
        ? html`<span class="good">✓ Verified in the gateway's signed checkpoint of ${checkpoint.treeSize} entries.</span>`
        : html`<span class="bad">✗ Not proven: this entry does not match the signed checkpoint of ${checkpoint.treeSize} entries.</span>`;
  const an = !anchor
    ? html`<span class="muted">Not anchored on-chain yet.</span>`
    : anchor.included
      ? html`<span class="good">✓ Verified against the on-chain anchor of ${anchor.treeSize} entries (block ${anchor.blockNumber}).</span>`
      : html`<span class="bad">✗ Does not match the on-chain anchor of ${anchor.treeSize} entries (block ${anchor.blockNumber}).</span>`;
  return html`<div class="verdict">${cp}</div><div class="verdict">${an}</div>`;
}
