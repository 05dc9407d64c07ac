import { html, nothing, type TemplateResult } from "lit";
import type { App } from "../app";
import { localParts, relative, utcTime, toDateInput, fromDateInput } from "../time";

/** A time in the person's locale, the absolute UTC time on hover (and to screen readers via `datetime`). */
export function when(seconds: number, now?: number): TemplateResult {
  const [day, clock] = localParts(seconds);
  return html`<time datetime=${new Date(seconds * 1000).toISOString()} title=${utcTime(seconds)}><span class="nowrap">${day},</span> <span class="nowrap">${clock}</span></time>${
    now === undefined ? nothing : html` <span class="countdown">(${relative(seconds, now)})</span>`
  }`;
}

/** Same, for the milliseconds the gateway stamps its records with. */
export const whenMs = (ms: number) => when(Math.floor(ms / 1000));

export const shortAddress = (address: string) => `${address.slice(0, 6)}…${address.slice(-4)}`;
export const shortHash = (hash: string) => `${hash.slice(0, 10)}…`;

export const plural = (n: number, one: string, many = `${one}s`) => (n === 1 ? one : many);

/** A service by its display name when registered, its full address on hover and for screen readers. */
export function party(app: App, address: string): TemplateResult {
  const name = app.serviceName(address);
  return name
    ? html`<span class="party" title=${address}>${name}<span class="visually-hidden"> (${address})</span></span>`
    : html`<span class="party mono" title=${address}>${shortAddress(address)}</span>`;
}

/** A category or purpose in words, its label (or the raw id) beside it in small type. */
export function labelled(app: App, idOrLabel: string): TemplateResult {
  const title = app.categoryTitle(idOrLabel);
  const label = app.categoryLabel(idOrLabel);
  return title === label ? html`<span class="mono">${label}</span>` : html`${title} <span class="label">${label}</span>`;
}

export function badge(kind: string, text: string = kind): TemplateResult {
  return html`<span class="badge badge-${kind}">${text}</span>`;
}

const QUICK_EXPIRIES = [
  { seconds: 3600, text: "1 hour" },
  { seconds: 86_400, text: "1 day" },
  { seconds: 30 * 86_400, text: "30 days" },
] as const;

/**
 * The expiry choice every form shares: quick durations from now, or a date. `name` keeps each form's
 * radio group apart; the chosen value is read back with {@link readExpiry}.
 */
export function expiryChooser(name: string, legend: string, now: number, initial: "3600" | "86400" | "2592000" | "date" = "86400"): TemplateResult {
  return html`<fieldset class="expiry">
    <legend>${legend}</legend>
    <div class="choices">
      ${QUICK_EXPIRIES.map(
        (q) => html`<label class="choice"><input type="radio" name=${`${name}-choice`} value=${String(q.seconds)} ?checked=${initial === String(q.seconds)} />${q.text}</label>`,
      )}
      <label class="choice"><input type="radio" name=${`${name}-choice`} value="date" ?checked=${initial === "date"} />A date:</label>
      <input
        type="datetime-local"
        name=${`${name}-date`}
        aria-label=${`${legend}: date and time`}
        .defaultValue=${toDateInput(now + 7 * 86_400)}
        @input=${(e: Event) => {
          const radio = (e.target as HTMLInputElement).form?.querySelector<HTMLInputElement>(`input[name="${name}-choice"][value="date"]`);
          if (radio) radio.checked = true;
        }}
      />
    </div>
  </fieldset>`;
}

/** Closes the inline editor that is open. */
export const cancel = (app: App) => html`<button type="button" class="link" @click=${() => app.setOpen(null)}>Cancel</button>`;

/**
 * The row under a table row that holds its inline editor (`colspan` wide): an expiry chooser, the
 * submit button, any further actions, Cancel, and a hint; `onExpiry` gets the chosen time.
 */
export function expiryEditor(
  app: App,
  editor: { name: string; legend: string; colspan: number; submit: string; more?: TemplateResult; hint: TemplateResult | string; onExpiry: (at: number) => void },
): TemplateResult {
  return html`<tr class="editor"><td colspan=${editor.colspan}>
    <form
      @submit=${(e: Event) => {
        e.preventDefault();
        const at = readExpiry(e.target as HTMLFormElement, editor.name, app.now());
        if (at !== null) editor.onExpiry(at);
      }}
    >
      ${expiryChooser(editor.name, editor.legend, app.now(), "2592000")}
      <div class="form-actions">
        <button type="submit" ?disabled=${app.busy()}>${editor.submit}</button>
        ${editor.more ?? nothing} ${cancel(app)}
      </div>
      <p class="hint">${editor.hint}</p>
    </form>
  </td></tr>`;
}

/** The expiry an {@link expiryChooser} holds, in chain seconds; null when "a date" is chosen but empty. */
export function readExpiry(form: HTMLFormElement, name: string, now: number): number | null {
  const data = new FormData(form);
  const choice = String(data.get(`${name}-choice`) ?? "");
  if (choice === "date") return fromDateInput(String(data.get(`${name}-date`) ?? ""));
  const seconds = Number(choice);
  return Number.isFinite(seconds) && seconds > 0 ? now + seconds : null;
}
