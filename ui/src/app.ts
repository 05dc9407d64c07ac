import { render } from "lit";
import { LabelBook } from "../../core/labels";
import { labelToId } from "../../core/ids";
import { GatewayClient, GatewayRequestError, type AuditEntry, type Checkpoint, type DataRecord, type GrantRow, type OrderRow, type PublicConfig, type Session } from "./gateway";
import { chainName, connectWallet, discoverWallets, readChainId, saveSession, savedSession, signIn, switchChain, type DiscoveredWallet } from "./wallet";
import { Ledger, type LedgerAction, type Progress, type SendMode } from "./ledger";
import { explain } from "./errors";
import { readAnchors, verifyEntry, type Verification } from "./audit";
import { ChainClock, localTime, utcTime } from "./time";
import { shell } from "./views/shell";

export type Tab = "overview" | "data" | "grants" | "history" | "deletions";

export const TABS: readonly { id: Tab; title: string }[] = [
  { id: "overview", title: "Where my data flows" },
  { id: "data", title: "My data" },
  { id: "grants", title: "My grants" },
  { id: "history", title: "Who used my data" },
  { id: "deletions", title: "Deletions" },
];

/** One change the person started, from the wallet prompt to the index having read its block. */
export interface Activity {
  /** Tells one change from the next, also to tests watching the page. */
  seq: number;
  title: string;
  via: SendMode | "gateway";
  stage: Progress["stage"] | "done" | "failed" | "rejected";
  typed?: Extract<Progress, { stage: "confirm" }>["typed"];
  txHash?: string;
  blockNumber?: number;
  message?: string;
}

/** What the gateway and the chain said at the last refresh. */
export interface Snapshot {
  records: DataRecord[];
  grants: GrantRow[];
  services: Map<string, string>;
  orders: OrderRow[];
  entries: AuditEntry[];
  auditAvailable: boolean;
  checkpoint: Checkpoint | null;
  /** Data expiry by category id (lower-case), 0 when none. */
  dataExpiry: Map<string, number>;
}

export type VerifyState = { state: "checking" } | { state: "done"; result: Verification } | { state: "error"; message: string };

/** Which inline editor is open: one at a time keeps the page calm on a phone. */
export type OpenEditor = { kind: "grant-expiry" | "data-expiry" | "delete-data" | "revoke-all"; key: string } | null;

export type Phase = "loading" | "fatal" | "discovering" | "no-wallet" | "choose-wallet" | "wrong-chain" | "sign-in" | "ready";

export interface State {
  config: PublicConfig | null;
  fatal: string | null;
  discovering: boolean;
  wallets: DiscoveredWallet[];
  wallet: DiscoveredWallet | null;
  account: string | null;
  chainId: number | null;
  session: Session | null;
  /** What the page waits on the wallet for while connecting or signing in. */
  prompt: string | null;
  notice: { tone: "rejected" | "failed" | "info"; text: string } | null;
  mode: SendMode;
  tab: Tab;
  snapshot: Snapshot | null;
  loadError: string | null;
  activity: Activity | null;
  verifications: Map<number, VerifyState>;
  open: OpenEditor;
}

const REFRESH_MS = 4000;
const MODE_KEY = "dul.mode";

/** The page's state and everything that changes it; views read the state and call these methods. */
export class App {
  readonly gateway = new GatewayClient();
  readonly clock = new ChainClock();
  readonly labels = new LabelBook();
  state: State = {
    config: null,
    fatal: null,
    discovering: true,
    wallets: [],
    wallet: null,
    account: null,
    chainId: null,
    session: null,
    prompt: null,
    notice: null,
    mode: readMode(),
    tab: tabFromHash(),
    snapshot: null,
    loadError: null,
    activity: null,
    verifications: new Map(),
    open: null,
  };
  private ledger: Ledger | null = null;
  private activitySeq = 0;
  private renderQueued = false;
  private refreshing: Promise<void> | null = null;
  private auditCursor = 0;
  private unsubscribeWallet: (() => void) | null = null;

  constructor(private readonly root: HTMLElement) {}

  async start(): Promise<void> {
    window.addEventListener("hashchange", () => {
      this.update({ tab: tabFromHash() });
      // Opening a section shows it as it is now, not as of the last poll.
      if (this.phase() === "ready" && !this.busy()) void this.refresh();
    });
    window.addEventListener("resize", () => this.requestRender());
    // The countdowns tick by re-rendering; lit only touches the text that changed.
    setInterval(() => this.requestRender(), 1000);
    setInterval(() => {
      if (this.phase() === "ready" && document.visibilityState === "visible" && !this.busy()) void this.refresh();
    }, REFRESH_MS);
    this.requestRender();
    try {
      this.update({ config: await this.gateway.config() });
    } catch (error) {
      this.update({ fatal: `The gateway did not answer: ${(error as Error).message}` });
      return;
    }
    discoverWallets(
      (wallets) => this.update({ wallets }),
      () => void this.resume().finally(() => this.update({ discovering: false })),
    );
  }

  /**
   * After a reload: a wallet that already lets this page see its account (`eth_accounts`, no
   * prompt) and whose session is still valid carries on where the person was.
   */
  private async resume(): Promise<void> {
    const config = this.state.config;
    if (!config) return;
    for (const wallet of this.state.wallets) {
      try {
        const account = ((await wallet.provider.request({ method: "eth_accounts" })) as string[])?.[0]?.toLowerCase();
        const session = account ? savedSession(account, config) : null;
        if (!account || !session) continue;
        this.watch(wallet);
        this.update({ wallet, account, chainId: await readChainId(wallet.provider), session });
        this.afterIdentityChange();
        return;
      } catch {
        // A wallet that does not answer without a prompt is simply not resumed: the person connects it.
      }
    }
  }

  phase(): Phase {
    const s = this.state;
    if (s.fatal) return "fatal";
    if (!s.config) return "loading";
    if (!s.wallet || !s.account) return s.discovering ? "discovering" : s.wallets.length ? "choose-wallet" : "no-wallet";
    if (s.chainId !== s.config.chainId) return "wrong-chain";
    if (!s.session) return "sign-in";
    return "ready";
  }

  busy(): boolean {
    const stage = this.state.activity?.stage;
    return stage !== undefined && stage !== "done" && stage !== "failed" && stage !== "rejected";
  }

  update(patch: Partial<State>): void {
    Object.assign(this.state, patch);
    this.requestRender();
  }

  requestRender(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      render(shell(this), this.root);
    });
  }

  now(): number {
    return this.clock.now();
  }

  // --- wallet, chain, sign-in ---------------------------------------------------------------

  async connect(wallet: DiscoveredWallet): Promise<void> {
    this.update({ prompt: `Confirm the connection in ${wallet.info.name}…`, notice: null });
    try {
      const { account, chainId } = await connectWallet(wallet.provider);
      this.watch(wallet);
      this.update({ wallet, account, chainId, session: this.state.config ? savedSession(account, this.state.config) : null });
      this.afterIdentityChange();
    } catch (error) {
      this.update({ notice: this.explainConnect(error, "connection") });
    } finally {
      this.update({ prompt: null });
    }
  }

  async switchChain(): Promise<void> {
    const { wallet, config } = this.state;
    if (!wallet || !config) return;
    this.update({ prompt: `Confirm the network switch in ${wallet.info.name}…`, notice: null });
    try {
      await switchChain(wallet.provider, config.chainId);
      // Some wallets switch without a chainChanged event reaching us first.
      this.update({ chainId: await readChainId(wallet.provider) });
      this.afterIdentityChange();
    } catch (error) {
      this.update({ notice: this.explainConnect(error, "network switch") });
    } finally {
      this.update({ prompt: null });
    }
  }

  async signIn(): Promise<void> {
    const { wallet, account, config } = this.state;
    if (!wallet || !account || !config) return;
    this.update({ prompt: `Sign the message in ${wallet.info.name} to prove this address is yours. It costs nothing.`, notice: null });
    try {
      const session = await signIn(wallet.provider, account, config, this.gateway);
      saveSession(account, config, session);
      this.update({ session });
      this.afterIdentityChange();
    } catch (error) {
      this.update({ notice: this.explainConnect(error, "sign-in") });
    } finally {
      this.update({ prompt: null });
    }
  }

  signOut(): void {
    const { account, config } = this.state;
    if (account && config) saveSession(account, config, null);
    this.update({ session: null, snapshot: null, notice: null, activity: null });
    this.afterIdentityChange();
  }

  private explainConnect(error: unknown, what: string): State["notice"] {
    const e = explain(error, localTime);
    return e.tone === "rejected" ? { tone: "rejected", text: `You rejected the ${what} request in your wallet. Nothing happened; try again when ready.` } : { tone: "failed", text: e.text };
  }

  private watch(wallet: DiscoveredWallet): void {
    this.unsubscribeWallet?.();
    const onAccounts = (accounts: unknown) => {
      const account = ((accounts as string[])[0] ?? null)?.toLowerCase() ?? null;
      if (account === this.state.account) return;
      const config = this.state.config;
      this.update({ account, session: account && config ? savedSession(account, config) : null, snapshot: null, activity: null });
      this.afterIdentityChange();
    };
    const onChain = (chainId: unknown) => {
      this.update({ chainId: Number(chainId) });
      this.afterIdentityChange();
    };
    wallet.provider.on?.("accountsChanged", onAccounts);
    wallet.provider.on?.("chainChanged", onChain);
    this.unsubscribeWallet = () => {
      wallet.provider.removeListener?.("accountsChanged", onAccounts);
      wallet.provider.removeListener?.("chainChanged", onChain);
    };
  }

  /** Account, chain or session changed: rebuild what depends on them. */
  private afterIdentityChange(): void {
    const { wallet, account, config, session } = this.state;
    this.gateway.setToken(session?.token ?? null);
    this.ledger = null;
    this.auditCursor = 0;
    this.state.verifications = new Map();
    if (this.phase() !== "ready" || !wallet || !account || !config) return;
    this.ledger = new Ledger(wallet.provider, account, config, this.gateway);
    this.update({ snapshot: null, loadError: null });
    // A load still running for the previous identity is dropped when it lands; read again after it.
    void (this.refreshing ?? Promise.resolve()).then(() => this.refresh());
  }

  // --- reading ------------------------------------------------------------------------------

  refresh(): Promise<void> {
    this.refreshing ??= this.load().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async load(): Promise<void> {
    const ledger = this.ledger;
    const subject = this.state.account;
    if (!ledger || !subject) return;
    try {
      const [records, grants, services, orders, audit, checkpoint, head] = await Promise.all([
        this.gateway.records(subject),
        this.gateway.grants(subject),
        this.gateway.services(),
        this.gateway.orders(subject),
        this.readAudit(),
        this.gateway.checkpoint().catch(() => null),
        ledger.chainTime(),
      ]);
      if (ledger !== this.ledger) return;
      this.clock.observe(head);
      for (const r of records.records) this.labels.add(r.category);
      for (const e of audit.entries) if (e.category && !e.category.startsWith("0x")) this.labels.add(e.category);
      const categoryIds = new Set([...records.records.map((r) => r.categoryId.toLowerCase()), ...grants.grants.map((g) => g.category)]);
      const expiries = await Promise.all([...categoryIds].map(async (id) => [id, Number(await ledger.registry.dataExpiryOf(subject, id))] as const));
      if (ledger !== this.ledger) return;
      this.auditCursor = audit.cursor;
      this.update({
        snapshot: {
          records: records.records,
          grants: grants.grants,
          services: new Map(services.services.map((s) => [s.address.toLowerCase(), s.displayName])),
          orders: orders.orders,
          entries: audit.entries,
          auditAvailable: audit.available,
          checkpoint,
          dataExpiry: new Map(expiries),
        },
        loadError: null,
      });
    } catch (error) {
      if (error instanceof GatewayRequestError && error.code === "UNAUTHENTICATED") {
        this.signOut();
        this.update({ notice: { tone: "info", text: "Your session ended. Sign in again to continue." } });
        return;
      }
      this.update({ loadError: explain(error, localTime).text });
    }
  }

  /** The log is append-only: only entries after the last page read are fetched again. */
  private async readAudit(): Promise<{ entries: AuditEntry[]; cursor: number; available: boolean }> {
    let cursor = this.auditCursor;
    const entries = cursor === 0 ? [] : [...(this.state.snapshot?.entries ?? [])];
    try {
      for (let pages = 0; pages < 100; pages += 1) {
        const page = await this.gateway.auditEntries(cursor);
        entries.push(...page.entries);
        if (page.to <= cursor) break;
        cursor = page.to;
        if (cursor >= page.treeSize) break;
      }
      return { entries, cursor, available: true };
    } catch (error) {
      if (error instanceof GatewayRequestError && error.code === "NOT_FOUND") return { entries: [], cursor: 0, available: false };
      throw error;
    }
  }

  // --- changing -----------------------------------------------------------------------------

  setMode(mode: SendMode): void {
    try {
      localStorage.setItem(MODE_KEY, mode);
    } catch {
      // Not remembered across visits then; the choice still holds on this page.
    }
    this.update({ mode });
  }

  setOpen(open: OpenEditor): void {
    this.update({ open: this.state.open?.kind === open?.kind && this.state.open?.key === open?.key ? null : open });
  }

  /** A change on the registry, from the wallet or signed and relayed, as the person chose. */
  async change(title: string, action: LedgerAction): Promise<void> {
    const ledger = this.ledger;
    if (!ledger || this.busy()) return;
    const via = this.state.mode;
    this.update({ activity: { seq: ++this.activitySeq, title, via, stage: "confirm" } });
    const progress = (p: Progress) => this.update({ activity: { ...this.state.activity!, ...p } });
    try {
      const receipt = await ledger.send(action, via, (name, value) => this.describeField(name, value), progress);
      this.update({ activity: { ...this.state.activity!, stage: "done", txHash: receipt.hash, blockNumber: receipt.blockNumber, typed: undefined }, open: null });
      await this.refresh();
    } catch (error) {
      const e = explain(error, (s) => `${localTime(s)} (${utcTime(s)})`);
      this.update({ activity: { ...this.state.activity!, stage: e.tone, message: e.text, typed: undefined } });
    }
  }

  /** A change on the gateway only (store or delete data): no wallet prompt. */
  async gatewayChange(title: string, run: () => Promise<string>): Promise<void> {
    if (this.busy()) return;
    const seq = ++this.activitySeq;
    this.update({ activity: { seq, title, via: "gateway", stage: "relaying" } });
    try {
      const message = await run();
      this.update({ activity: { seq, title, via: "gateway", stage: "done", message }, open: null });
      await this.refresh();
    } catch (error) {
      const e = explain(error, localTime);
      this.update({ activity: { seq, title, via: "gateway", stage: e.tone, message: e.text } });
    }
  }

  storeData(category: string, value: unknown): Promise<void> {
    const subject = this.state.account!;
    return this.gatewayChange(`Store your ${this.categoryTitle(category)}`, async () => {
      const { created } = await this.gateway.storeRecord(subject, category, value);
      return created ? "Stored, encrypted at rest." : "Replaced the value stored before.";
    });
  }

  deleteData(category: string): Promise<void> {
    const subject = this.state.account!;
    return this.gatewayChange(`Delete your ${this.categoryTitle(category)} now`, async () => {
      const { deleted, auditIndex, orders } = await this.gateway.deleteRecord(subject, category);
      const ordered = orders.length ? ` ${orders.length} service${orders.length === 1 ? " was" : "s were"} ordered to delete their copies.` : "";
      return `Deleted ${deleted} record${deleted === 1 ? "" : "s"}; the receipt is entry #${auditIndex} of the access log.${ordered}`;
    });
  }

  async verify(entry: AuditEntry): Promise<void> {
    const config = this.state.config;
    if (!config || !this.ledger) return;
    const ledger = this.ledger;
    this.setVerification(entry.index, { state: "checking" });
    try {
      const result = await verifyEntry(entry, {
        gateway: this.gateway,
        gatewayAddress: config.gatewayAddress,
        anchors: () => readAnchors(ledger.provider, config.contracts.AuditAnchor.address, config.contracts.AuditAnchor.blockNumber),
      });
      this.setVerification(entry.index, { state: "done", result });
    } catch (error) {
      this.setVerification(entry.index, { state: "error", message: explain(error, localTime).text });
    }
  }

  private setVerification(index: number, value: VerifyState): void {
    const next = new Map(this.state.verifications);
    next.set(index, value);
    this.update({ verifications: next });
  }

  // --- words --------------------------------------------------------------------------------

  serviceName(address: string): string | undefined {
    return this.state.snapshot?.services.get(address.toLowerCase());
  }

  categoryTitle(idOrLabel: string): string {
    return this.labels.lookup(idOrLabel)?.title ?? shortId(idOrLabel);
  }

  categoryLabel(idOrLabel: string): string {
    return this.labels.lookup(idOrLabel)?.label ?? idOrLabel;
  }

  dataExpiry(categoryIdOrLabel: string): number | undefined {
    const id = categoryIdOrLabel.startsWith("0x") ? categoryIdOrLabel.toLowerCase() : labelToId(categoryIdOrLabel).toLowerCase();
    return this.state.snapshot?.dataExpiry.get(id) || undefined;
  }

  /** A typed-data field in words, shown beside the wallet's own prompt. */
  describeField(name: string, value: unknown): string {
    const text = String(value);
    switch (name) {
      case "subject":
        return `${text} (you)`;
      case "grantee":
        return this.serviceName(text) ? `${this.serviceName(text)} (${text})` : text;
      case "category":
      case "purpose": {
        const known = this.labels.lookup(text);
        return known ? `${known.title} — ${known.label}` : text;
      }
      case "grantId": {
        const g = this.state.snapshot?.grants.find((x) => x.grantId === text.toLowerCase());
        return g ? `${this.serviceName(g.grantee) ?? g.grantee} · ${this.categoryTitle(g.category)} · ${this.categoryTitle(g.purpose)}` : text;
      }
      case "expiresAt":
        return Number(value) === 0 ? "none (clears it)" : `${localTime(Number(value))} (${utcTime(Number(value))})`;
      case "deadline":
        return `valid until ${localTime(Number(value))}`;
      default:
        return text;
    }
  }

  chainName(chainId: number): string {
    return chainName(chainId);
  }
}

const shortId = (id: string) => (id.startsWith("0x") && id.length === 66 ? `${id.slice(0, 10)}…` : id);

function tabFromHash(): Tab {
  const id = window.location.hash.replace(/^#/, "");
  return TABS.some((t) => t.id === id) ? (id as Tab) : "overview";
}

function readMode(): SendMode {
  try {
    return localStorage.getItem(MODE_KEY) === "wallet" ? "wallet" : "gasless";
  } catch {
    return "gasless";
  }
}
