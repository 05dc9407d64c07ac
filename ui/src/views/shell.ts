import { html, nothing, type TemplateResult } from "lit";
import { TABS, type App, type Phase, type Tab } from "../app";
import { activityPanel } from "./activity";
import { overviewView } from "./overview";
import { dataView } from "./data";
import { grantsView } from "./grants";
import { historyView } from "./history";
import { deletionsView } from "./deletions";
import { shortAddress } from "./common";
import { chainName } from "../wallet";

/** The whole page: a header that always says where the wallet stands, then the step the person is at. */
export function shell(app: App): TemplateResult {
  const phase = app.phase();
  const config = app.state.config;
  return html`
    <a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <div class="brand">
        <span class="logo" aria-hidden="true"></span>
        <div>
          <h1>Your data ledger</h1>
          <p class="tagline">Who may use which of your data, for what, until when.</p>
        </div>
      </div>
      ${phase === "ready" ? identity(app) : nothing}
    </header>
    <main id="main" tabindex="-1">${phase === "ready" ? dashboard(app) : onboarding(app, phase)}</main>
    <footer class="foot">
      ${config
        ? html`Registry <span class="mono" title=${config.contracts.DataUseRegistry.address}>${shortAddress(config.contracts.DataUseRegistry.address)}</span>
            · chain ${config.chainId} · gateway <span class="mono" title=${config.gatewayAddress}>${shortAddress(config.gatewayAddress)}</span>
            · <a href="/openapi.json">API</a>`
        : nothing}
    </footer>
  `;
}

function identity(app: App): TemplateResult {
  const { account, wallet } = app.state;
  return html`<div class="identity">
    <span class="who" title=${`${account} via ${wallet!.info.name}`}>
      <span class="dot" aria-hidden="true"></span>
      <span class="visually-hidden">Signed in as </span><span class="mono">${shortAddress(account!)}</span>
      <span class="muted via">via ${wallet!.info.name}</span>
    </span>
    <button class="link" @click=${() => app.signOut()}>Sign out</button>
  </div>`;
}

/** Gas or no gas, for every change that follows. */
function modeChooser(app: App): TemplateResult {
  const mode = app.state.mode;
  return html`<fieldset class="mode" ?disabled=${app.busy()}>
    <legend>Send my changes</legend>
    <label>
      <input type="radio" name="mode" value="gasless" ?checked=${mode === "gasless"} @change=${() => app.setMode("gasless")} />
      <span><strong>Gasless</strong> <span class="muted">I sign, the gateway pays the gas</span></span>
    </label>
    <label>
      <input type="radio" name="mode" value="wallet" ?checked=${mode === "wallet"} @change=${() => app.setMode("wallet")} />
      <span><strong>From my wallet</strong> <span class="muted">I pay the gas</span></span>
    </label>
  </fieldset>`;
}

/** No wallet, choosing one, wrong chain, signing in: one clear card each. */
function onboarding(app: App, phase: Phase): TemplateResult {
  const s = app.state;
  const notice = s.notice ? html`<p class="notice notice-${s.notice.tone}" role="alert">${s.notice.text}</p>` : nothing;
  const prompt = s.prompt ? html`<p class="notice notice-info" role="status"><span class="spinner" aria-hidden="true"></span>${s.prompt}</p>` : nothing;
  let body: TemplateResult;
  switch (phase) {
    case "fatal":
      body = html`<h2>The gateway is not reachable</h2><p role="alert">${s.fatal}</p><button @click=${() => window.location.reload()}>Try again</button>`;
      break;
    case "loading":
    case "discovering":
      body = html`<h2>Looking for your wallet…</h2><p class="muted" role="status">Asking installed wallets to introduce themselves.</p>`;
      break;
    case "no-wallet":
      body = html`<h2>No wallet found</h2>
        <p>This page needs an Ethereum wallet in your browser (a browser extension such as MetaMask, Rabby or Frame) to prove which
          address is yours and to sign your choices.</p>
        <p>Install one, import the local test account ${s.config?.chainId === 31337 ? html`(<code>npm start</code> prints it)` : nothing}, then reload this page.</p>
        <button @click=${() => window.location.reload()}>Reload</button>`;
      break;
    case "choose-wallet":
      body = html`<h2>Connect your wallet</h2>
        <p>Your wallet proves which address is yours. Nothing is sent or signed until you confirm in the wallet.</p>
        <ul class="wallets">
          ${s.wallets.map(
            (w) => html`<li>
              <button class="wallet" ?disabled=${!!s.prompt} @click=${() => app.connect(w)}>
                ${w.info.icon ? html`<img src=${w.info.icon} alt="" width="28" height="28" />` : nothing} Connect ${w.info.name}
              </button>
            </li>`,
          )}
        </ul>`;
      break;
    case "wrong-chain":
      body = html`<h2>Wrong network</h2>
        <p role="alert">Your wallet is on <strong>${chainName(s.chainId!)}</strong>; this ledger lives on
          <strong>${chainName(s.config!.chainId)}</strong> (chain id ${s.config!.chainId}).</p>
        <button ?disabled=${!!s.prompt} @click=${() => app.switchChain()}>Switch to ${chainName(s.config!.chainId)}</button>`;
      break;
    default:
      body = html`<h2>Sign in</h2>
        <p>Connected as <span class="mono">${s.account}</span>. Sign a short message to prove it is yours: no transaction, no gas.</p>
        <button ?disabled=${!!s.prompt} @click=${() => app.signIn()}>Sign in with Ethereum</button>`;
  }
  return html`<section class="card onboarding" aria-live="polite">${body}${prompt}${notice}</section>`;
}

function dashboard(app: App): TemplateResult {
  const { tab, snapshot, loadError } = app.state;
  return html`
    ${modeChooser(app)} ${tabBar(app, tab)} ${activityPanel(app)} ${loadError ? html`<p class="notice notice-failed" role="alert">${loadError}</p>` : nothing}
    <section id=${`panel-${tab}`} role="tabpanel" aria-labelledby=${`tab-${tab}`} class="panel">
      ${snapshot ? panel(app, tab) : html`<p class="muted" role="status"><span class="spinner" aria-hidden="true"></span>Reading your ledger…</p>`}
    </section>
  `;
}

function panel(app: App, tab: Tab): TemplateResult {
  switch (tab) {
    case "overview":
      return overviewView(app);
    case "data":
      return dataView(app);
    case "grants":
      return grantsView(app);
    case "history":
      return historyView(app);
    case "deletions":
      return deletionsView(app);
  }
}

/** WAI-ARIA tabs: one tab stop, arrows move between tabs; each tab is also a link (#grants) to share. */
function tabBar(app: App, current: Tab): TemplateResult {
  const go = (tab: Tab, focus: boolean) => {
    window.location.hash = tab;
    if (focus) requestAnimationFrame(() => document.getElementById(`tab-${tab}`)?.focus());
  };
  const onKey = (e: KeyboardEvent) => {
    const i = TABS.findIndex((t) => t.id === current);
    const next = e.key === "ArrowRight" ? (i + 1) % TABS.length : e.key === "ArrowLeft" ? (i - 1 + TABS.length) % TABS.length : e.key === "Home" ? 0 : e.key === "End" ? TABS.length - 1 : -1;
    if (next < 0) return;
    e.preventDefault();
    go(TABS[next].id, true);
  };
  return html`<nav class="tabs" aria-label="Sections">
    <div role="tablist" @keydown=${onKey}>
      ${TABS.map(
        (t) => html`<button
          role="tab"
          id=${`tab-${t.id}`}
          aria-selected=${t.id === current ? "true" : "false"}
          aria-controls=${`panel-${t.id}`}
          tabindex=${t.id === current ? "0" : "-1"}
          @click=${() => go(t.id, false)}
        >
          ${t.title}
        </button>`,
      )}
    </div>
  </nav>`;
}
