import { html, nothing, type TemplateResult } from "lit";
import { repeat } from "lit/directives/repeat.js";
import { CATEGORIES } from "../../../core/labels";
import type { App } from "../app";
import type { DataRecord } from "../gateway";
import { localTime } from "../time";
import { cancel, expiryEditor, labelled, when, whenMs } from "./common";
import { ruleWords } from "./deletions";

export function dataView(app: App): TemplateResult {
  const { records, entries } = app.state.snapshot!;
  const now = app.now();
  const deleted = entries.filter((e) => e.kind === "deletion").slice(-5).reverse();
  return html`
    <div class="panel-head">
      <h2>My data</h2>
      <p class="lead">What this platform holds about you, encrypted. Set a date after which it must not exist ("burn after use"), or delete it now.</p>
    </div>
    ${records.length === 0
      ? html`<p class="empty">The platform holds no data for you right now.</p>`
      : html`<table class="rows">
          <thead>
            <tr><th scope="col">Category</th><th scope="col">Stored</th><th scope="col">Last changed</th><th scope="col">Deleted on (data expiry)</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr>
          </thead>
          <tbody>
            ${repeat(records, (r) => r.category, (r) => recordRows(app, r, now))}
          </tbody>
        </table>`}
    ${deleted.length
      ? html`<h3>Recently deleted</h3>
          <ul class="plain deleted-list">
            ${deleted.map(
              (e) => html`<li>
                <strong>${app.categoryTitle(e.category ?? "")}</strong> deleted ${whenMs(e.at)} — ${ruleWords(String(e.detail?.rule ?? ""))}
                <a href="#deletions">receipt #${e.index}</a>
              </li>`,
            )}
          </ul>`
      : nothing}
    ${storeForm(app)}
  `;
}

function recordRows(app: App, r: DataRecord, now: number): TemplateResult {
  const title = app.categoryTitle(r.category);
  const expiry = app.dataExpiry(r.category);
  const editing = app.isOpen("data-expiry", r.category);
  const confirming = app.isOpen("delete-data", r.category);
  const busy = app.busy();
  return html`<tr data-category=${r.category}>
      <th scope="row" data-label="Category" class="wide">${labelled(app, r.category)}</th>
      <td data-label="Stored">${whenMs(r.createdAt)}</td>
      <td data-label="Last changed">${whenMs(r.updatedAt)}</td>
      <td data-label="Deleted on">${expiry ? when(expiry, now) : html`<span class="muted">not set</span>`}</td>
      <td class="actions">
        <button class="secondary" aria-expanded=${editing ? "true" : "false"} @click=${() => app.setOpen({ kind: "data-expiry", key: r.category })}>
          ${expiry ? "Change deletion date" : "Delete on a date…"}
        </button>
        <button class="danger" aria-expanded=${confirming ? "true" : "false"} @click=${() => app.setOpen({ kind: "delete-data", key: r.category })}>Delete now</button>
      </td>
    </tr>
    ${editing
      ? expiryEditor(app, {
          name: "dx",
          legend: `Delete my ${title} on`,
          colspan: 5,
          submit: expiry ? "Set new date" : "Set deletion date",
          more: expiry
            ? html`<button type="button" class="secondary" ?disabled=${busy}
                @click=${() => void app.change(`Clear the deletion date of your ${title}`, { action: "setDataExpiry", category: r.category, expiresAt: 0 })}>Clear the date</button>`
            : undefined,
          hint: "At that moment the gateway destroys the data's key, every grant on it ends, and services holding it are ordered to delete their copies.",
          onExpiry: (at) => {
            const verb = !expiry ? "Delete" : at < expiry ? "Bring forward: delete" : "Move: delete";
            void app.change(`${verb} your ${title} on ${localTime(at)}`, { action: "setDataExpiry", category: r.category, expiresAt: at });
          },
        })
      : nothing}
    ${confirming
      ? html`<tr class="editor"><td colspan="5">
          <p><strong>Delete your ${title} now?</strong> This cannot be undone. Services with a grant on it are ordered to delete their copies.</p>
          <div class="form-actions">
            <button class="danger" ?disabled=${busy} @click=${() => void app.deleteData(r.category)}>Yes, delete ${title}</button>
            ${cancel(app)}
          </div>
        </td></tr>`
      : nothing}`;
}

/** The subject may store its own data too (the gateway allows the subject or an operator to write). */
function storeForm(app: App): TemplateResult {
  return html`<details class="card store">
    <summary>Store a value yourself</summary>
    <form
      @submit=${(e: Event) => {
        e.preventDefault();
        const form = e.target as HTMLFormElement;
        const data = new FormData(form);
        const category = String(data.get("category") ?? "").trim();
        const value = String(data.get("value") ?? "");
        if (!category || !value) return;
        void app.storeData(category, value).then(() => form.reset());
      }}
    >
      <div class="field">
        <label for="store-category">Category</label>
        <input id="store-category" name="category" list="known-categories" required pattern="[\\x21-\\x7e]+" placeholder="contact.email" autocomplete="off" />
      </div>
      <datalist id="known-categories">${CATEGORIES.map((c) => html`<option value=${c.label}>${c.title}</option>`)}</datalist>
      <div class="field">
        <label for="store-value">Value</label>
        <input id="store-value" name="value" required placeholder="me@example.org" autocomplete="off" />
      </div>
      <button type="submit" ?disabled=${app.busy()}>Store</button>
    </form>
  </details>`;
}
