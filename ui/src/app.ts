import { render } from "lit";
import { LabelBook, idOf, isId } from "../../core/labels";
import { logOriginOf } from "../../core/logOrigin";
import { GatewayClient, GatewayRequestError, type AuditEntry, type Checkpoint, type DataRecord, type GrantRow, type OrderRow, type PublicConfig, type Session } from "./gateway";
import { connectWallet, discoverWallets, readChainId, saveSession, savedSession, signIn, switchChain, type DiscoveredWallet } from "./wallet";
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
  private readonly gateway = new GatewayClient();
  private readonly clock = new ChainClock();
  private readonly labels = new LabelBook();
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
  /** The head block the snapshot's data expiries were read at. */
  private expiriesAt: string | null = null;
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
        const session = account ? this.sessionOf(account) : null;
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

  connect(wallet: DiscoveredWallet): Promise<void> {
    return this.prompted(`Confirm the connection in ${wallet.info.name}…`, "connection", async () => {
      const { account, chainId } = await connectWallet(wallet.provider);
      this.watch(wallet);
      return { wallet, account, chainId, session: this.sessionOf(account) };
    });
  }

  async switchChain(): Promise<void> {
    const { wallet, config } = this.state;
    if (!wallet || !config) return;
    return this.prompted(`Confirm the network switch in ${wallet.info.name}…`, "network switch", async () => {
      await switchChain(wallet.provider, config.chainId);
      // Some wallets switch without a chainChanged event reaching us first.
      return { chainId: await readChainId(wallet.provider) };
    });
  }

  async signIn(): Promise<void> {
    const { wallet, account, config } = this.state;
    if (!wallet || !account || !config) return;
    return this.prompted(`Sign the message in ${wallet.info.name} to prove this address is yours. It costs nothing.`, "sign-in", async () => {
      const session = await signIn(wallet.provider, account, config, this.gateway);
      saveSession(account, config, session);
      return { session };
    });
  }

  signOut(): void {
    const { account, config } = this.state;
    if (account && config) saveSession(account, config, null);
    this.update({ session: null, snapshot: null, notice: null, activity: null });
    this.afterIdentityChange();
  }

  /** A request to the wallet while connecting: the page says what it waits for, and a refusal in words. */
  private async prompted(prompt: string, what: string, run: () => Promise<Partial<State>>): Promise<void> {
    this.update({ prompt, notice: null });
    try {
      this.update(await run());
      this.afterIdentityChange();
    } catch (error) {
      const e = explain(error, localTime);
      this.update({
        notice: e.tone === "rejected" ? { tone: "rejected", text: `You rejected the ${what} request in your wallet. Nothing happened; try again when ready.` } : { tone: "failed", text: e.text },
      });
    } finally {
      this.update({ prompt: null });
    }
  }

  /** The session this tab saved for `account`, if still valid. */
  private sessionOf(account: string): Session | null {
    return this.state.config ? savedSession(account, this.state.config) : null;
  }

  private watch(wallet: DiscoveredWallet): void {
    this.unsubscribeWallet?.();
    const onAccounts = (accounts: unknown) => {
      const account = ((accounts as string[])[0] ?? null)?.toLowerCase() ?? null;
      if (account === this.state.account) return;
      this.update({ account, session: account ? this.sessionOf(account) : null, snapshot: null, activity: null });
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
    this.expiriesAt = null;
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
        ledger.head(),
      ]);
      if (ledger !== this.ledger) return;
      this.clock.observe(head.timestamp);
      for (const r of records.records) this.labels.add(r.category);
      for (const e of audit.entries) if (e.category && !isId(e.category)) this.labels.add(e.category);
      const categoryIds = new Set([...records.records.map((r) => r.categoryId.toLowerCase()), ...grants.grants.map((g) => g.category)]);
      const dataExpiry = await this.readDataExpiries(ledger, subject, categoryIds, head.hash);
      if (ledger !== this.ledger) return;
      this.auditCursor = audit.cursor;
      this.expiriesAt = head.hash;
      this.update({
        snapshot: {
          records: records.records,
          grants: grants.grants,
          services: new Map(services.services.map((s) => [s.address.toLowerCase(), s.displayName])),
          orders: orders.orders,
          entries: audit.entries,
          auditAvailable: audit.available,
          checkpoint,
          dataExpiry,
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

  /** Data expiries change only in a new block: while the head is the one they were read at, only categories new to the page are read. */
  private async readDataExpiries(ledger: Ledger, subject: string, ids: Set<string>, head: string | null): Promise<Map<string, number>> {
    const known = head !== null && head === this.expiriesAt ? this.state.snapshot?.dataExpiry : undefined;
    return new Map(await Promise.all([...ids].map(async (id) => [id, known?.get(id) ?? Number(await ledger.registry.dataExpiryOf(subject, id))] as const)));
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

  /** Opens an inline editor, or closes it when it is the one open (and with `null`). */
  setOpen(open: OpenEditor): void {
    this.update({ open: open && this.isOpen(open.kind, open.key) ? null : open });
  }

  isOpen(kind: NonNullable<OpenEditor>["kind"], key: string): boolean {
    return this.state.open?.kind === kind && this.state.open.key === key;
  }

  /** A change on the registry, from the wallet or signed and relayed, as the person chose. */
  change(title: string, action: LedgerAction): Promise<void> {
    const ledger = this.ledger;
    const via = this.state.mode;
    if (!ledger) return Promise.resolve();
    return this.track(title, via, async (progress) => {
      const receipt = await ledger.send(action, via, (name, value) => this.describeField(name, value), progress);
      return { txHash: receipt.hash, blockNumber: receipt.blockNumber };
    });
  }

  /** A change on the gateway only: no wallet prompt. */
  storeData(category: string, value: unknown): Promise<void> {
    const subject = this.state.account!;
    return this.track(`Store your ${this.categoryTitle(category)}`, "gateway", async () => {
      const { created } = await this.gateway.storeRecord(subject, category, value);
      return { message: created ? "Stored, encrypted at rest." : "Replaced the value stored before." };
    });
  }

  deleteData(category: string): Promise<void> {
    const subject = this.state.account!;
    return this.track(`Delete your ${this.categoryTitle(category)} now`, "gateway", async () => {
      const { deleted, auditIndex, orders } = await this.gateway.deleteRecord(subject, category);
      const ordered = orders.length ? ` ${orders.length} service${orders.length === 1 ? " was" : "s were"} ordered to delete their copies.` : "";
      return { message: `Deleted ${deleted} record${deleted === 1 ? "" : "s"}; the receipt is entry #${auditIndex} of the access log.${ordered}` };
    });
  }

  /**
   * One change the person started, one at a time: its stages in the activity panel, how it ended in
   * words, and the ledger read again after it.
   */
  private async track(title: string, via: Activity["via"], run: (progress: (p: Progress) => void) => Promise<Partial<Activity>>): Promise<void> {
    if (this.busy()) return;
    let activity: Activity = { seq: ++this.activitySeq, title, via, stage: via === "gateway" ? "relaying" : "confirm" };
    const show = (patch: Partial<Activity>, also: Partial<State> = {}) => this.update({ activity: (activity = { ...activity, ...patch }), ...also });
    show({});
    try {
      const outcome = await run((p) => show(p));
      show({ ...outcome, stage: "done", typed: undefined }, { open: null });
      await this.refresh();
    } catch (error) {
      const e = explain(error, (s) => `${localTime(s)} (${utcTime(s)})`);
      show({ stage: e.tone, message: e.text, typed: undefined });
    }
  }

  async verify(entry: AuditEntry): Promise<void> {
    const config = this.state.config;
    if (!config || !this.ledger) return;
    const ledger = this.ledger;
    this.setVerification(entry.index, { state: "checking" });
    try {
      const result = await verifyEntry(entry, {
        gateway: this.gateway,
        checkpointSigner: config.checkpointSigner,
        anchors: () => readAnchors(ledger.provider, config.contracts.AuditAnchor.address, config.contracts.AuditAnchor.blockNumber, logOriginOf(config)),
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
    return this.state.snapshot?.dataExpiry.get(idOf(categoryIdOrLabel)) || undefined;
  }

  /** A typed-data field in words, shown beside the wallet's own prompt. */
  describeField(name: string, value: unknown): string {
    const text = String(value);
    switch (name) {
      case "subject":
        return `${text} (you)`;
      case "grantee": {
        const service = this.serviceName(text);
        return service ? `${service} (${text})` : text;
      }
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
}

const shortId = (id: string) => (isId(id) ? `${id.slice(0, 10)}…` : id);

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
