import { html, nothing, type TemplateResult } from "lit";
import { repeat } from "lit/directives/repeat.js";
import { isAddress } from "ethers";
import { CATEGORIES, PURPOSES } from "../../../core/labels";
import type { App } from "../app";
import type { GrantRow } from "../gateway";
import { endsAt, isLive, liveStatus, type LiveStatus } from "../model";
import { localTime } from "../time";
import { badge, cancel, expiryChooser, expiryEditor, labelled, party, plural, readExpiry, when } from "./common";

const STATUS_WORDS: Record<LiveStatus, string> = {
  active: "active",
  expiring: "expiring soon",
  pending: "awaiting confirmation",
  expired: "expired",
  revoked: "revoked",
  "data-expired": "data deleted",
};

export function grantsView(app: App): TemplateResult {
  const { grants } = app.state.snapshot!;
  const now = app.now();
  const rows = grants
    .map((g) => ({ g, status: liveStatus(g, app.dataExpiry(g.category), now) }))
    .sort((a, b) => Number(isLive(b.status)) - Number(isLive(a.status)) || (isLive(a.status) ? a.g.expiresAt - b.g.expiresAt : b.g.grantedAt - a.g.grantedAt));
  const liveByService = new Map<string, number>();
  for (const { g, status } of rows) if (isLive(status)) liveByService.set(g.grantee, (liveByService.get(g.grantee) ?? 0) + 1);
  return html`
    <div class="panel-head">
      <h2>My grants</h2>
      <p class="lead">Each grant lets one service use one category of your data for one purpose, until a time you choose. They live on a public chain: no one but you can change them.</p>
    </div>
    ${grantForm(app, now)}
    ${rows.length === 0
      ? html`<p class="empty">You have not granted anything yet.</p>`
      : html`<table class="rows grants">
          <thead>
            <tr>
              <th scope="col">Service</th><th scope="col">Category</th><th scope="col">Purpose</th><th scope="col">Granted</th>
              <th scope="col">Expires</th><th scope="col">Status</th><th scope="col"><span class="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            ${repeat(rows, ({ g }) => g.grantId, ({ g, status }) => grantRows(app, g, status, now))}
          </tbody>
        </table>`}
    ${liveByService.size
      ? html`<h3>Revoke everything of a service</h3>
          <ul class="plain services">
            ${repeat(liveByService, ([address]) => address, ([address, count]) => revokeAllItem(app, address, count))}
          </ul>`
      : nothing}
  `;
}

function grantForm(app: App, now: number): TemplateResult {
  const { records, services } = app.state.snapshot!;
  const held = records.map((r) => r.category);
  const others = CATEGORIES.filter((c) => !held.includes(c.label));
  return html`<details class="card grant-form" ?open=${app.state.snapshot!.grants.length === 0}>
    <summary>Grant new access</summary>
    <form
      @submit=${(e: Event) => {
        e.preventDefault();
        const form = e.target as HTMLFormElement;
        const data = new FormData(form);
        const typed = String(data.get("address") ?? "").trim();
        const grantee = (typed || String(data.get("service") ?? "")).toLowerCase();
        const address = form.querySelector<HTMLInputElement>("input[name=address]")!;
        address.setCustomValidity(grantee && isAddress(grantee) ? "" : "Choose a service or enter its 0x address");
        if (!form.reportValidity()) return;
        const category = String(data.get("category"));
        const purpose = String(data.get("purpose"));
        const expiresAt = readExpiry(form, "gx", app.now());
        if (expiresAt === null) return;
        const name = app.serviceName(grantee) ?? grantee;
        void app.change(`Grant ${name} your ${app.categoryTitle(category)} for ${app.categoryTitle(purpose).toLowerCase()} until ${localTime(expiresAt)}`, {
          action: "grant",
          grantee,
          category,
          purpose,
          expiresAt,
        });
      }}
    >
      <div class="grid">
        <div class="field">
          <label for="grant-service">Service</label>
          <select id="grant-service" name="service">
            ${services.size === 0 ? html`<option value="">No service has registered yet</option>` : nothing}
            ${[...services].map(([address, name]) => html`<option value=${address}>${name} (${address.slice(0, 8)}…)</option>`)}
          </select>
        </div>
        <div class="field">
          <label for="grant-address">or another service's address</label>
          <input id="grant-address" name="address" placeholder="0x…" autocomplete="off" spellcheck="false" @input=${(e: Event) => (e.target as HTMLInputElement).setCustomValidity("")} />
        </div>
        <div class="field">
          <label for="grant-category">Category</label>
          <select id="grant-category" name="category">
            ${held.length ? html`<optgroup label="Held for you">${held.map((c) => html`<option value=${c}>${app.categoryTitle(c)} (${c})</option>`)}</optgroup>` : nothing}
            <optgroup label="Other categories">${others.map((c) => html`<option value=${c.label}>${c.title} (${c.label})</option>`)}</optgroup>
          </select>
        </div>
        <div class="field">
          <label for="grant-purpose">Purpose</label>
          <select id="grant-purpose" name="purpose">
            ${PURPOSES.map((p) => html`<option value=${p.label}>${p.title} (${p.label})</option>`)}
          </select>
        </div>
      </div>
      ${expiryChooser("gx", "Until", now, "86400")}
      <div class="form-actions"><button type="submit" ?disabled=${app.busy()}>Grant access</button></div>
    </form>
  </details>`;
}

function grantRows(app: App, g: GrantRow, status: LiveStatus, now: number): TemplateResult {
  const live = isLive(status);
  const dataExpiry = app.dataExpiry(g.category);
  const end = endsAt(g, dataExpiry);
  const editing = app.isOpen("grant-expiry", g.grantId);
  const what = `${app.serviceName(g.grantee) ?? g.grantee}'s use of your ${app.categoryTitle(g.category)} for ${app.categoryTitle(g.purpose).toLowerCase()}`;
  return html`<tr class=${live ? "" : "ended"} data-grant=${g.grantId}>
      <th scope="row" data-label="Service">${party(app, g.grantee)}</th>
      <td data-label="Category">${labelled(app, g.category)}</td>
      <td data-label="Purpose">${labelled(app, g.purpose)}</td>
      <td data-label="Granted">${when(g.grantedAt)}</td>
      <td data-label="Expires">
        ${status === "revoked" ? html`<span class="muted">—</span>` : when(end, live ? now : undefined)}
        ${dataExpiry && dataExpiry < g.expiresAt && status !== "revoked" ? html`<div class="hint">by your data expiry</div>` : nothing}
      </td>
      <td data-label="Status">${badge(status, STATUS_WORDS[status])}</td>
      <td class="actions">
        ${live
          ? html`<button class="secondary" aria-expanded=${editing ? "true" : "false"} @click=${() => app.setOpen({ kind: "grant-expiry", key: g.grantId })}>Change expiry</button>
              <button class="danger" ?disabled=${app.busy()} @click=${() => void app.change(`Revoke ${what}`, { action: "revoke", grantId: g.grantId })}>Revoke</button>`
          : nothing}
      </td>
    </tr>
    ${editing
      ? expiryEditor(app, {
          name: "cx",
          legend: "New expiry, from now",
          colspan: 7,
          submit: "Set new expiry",
          hint: `Currently ${localTime(g.expiresAt)}. A later time extends the grant, an earlier one shortens it.`,
          onExpiry: (at) => void app.change(`${at > g.expiresAt ? "Extend" : "Shorten"} ${what} to ${localTime(at)}`, { action: "changeExpiry", grantId: g.grantId, expiresAt: at }),
        })
      : nothing}`;
}

function revokeAllItem(app: App, address: string, count: number): TemplateResult {
  const name = app.serviceName(address) ?? address;
  const confirming = app.isOpen("revoke-all", address);
  return html`<li>
    <span>${party(app, address)}: ${count} active ${plural(count, "grant")}</span>
    ${confirming
      ? html`<span class="confirm">
          <button class="danger" ?disabled=${app.busy()} @click=${() => void app.change(`Revoke everything you granted ${name}`, { action: "revokeAll", grantee: address })}>
            Yes, revoke all ${count}
          </button>
          ${cancel(app)}
        </span>`
      : html`<button class="danger secondary" @click=${() => app.setOpen({ kind: "revoke-all", key: address })}>Revoke everything of ${name}</button>`}
  </li>`;
}
