import hre from "hardhat";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { toQuantity } from "ethers";
import { chromium, type Browser, type Page } from "playwright-core";

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it). Never a downloaded browser. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"];
export const SCREENSHOTS = join(__dirname, "..", "..", "test-results", "e2e");

export const DESKTOP = { width: 1280, height: 860 };
export const PHONE = { width: 390, height: 844 };

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`The wallet page's browser tests need Chromium at ${CHROMIUM}, which is missing: install it with \`apt-get install -y chromium\` (or set CHROMIUM_PATH).`);
  }
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** The test's side of the injected wallet: whose account, which chain, and what to refuse. */
export interface TestWallet {
  account: string;
  chainId: number;
  /** Methods whose next call the "person" rejects (EIP-1193 4001), each once. */
  reject: Set<string>;
  /** Every method the page called, in order. */
  calls: string[];
  /** Methods whose next call waits for this promise, as a person takes time to read the prompt. */
  hold: Map<string, Promise<void>>;
}

export function testWallet(account: string, chainId = 31337): TestWallet {
  return { account: account.toLowerCase(), chainId, reject: new Set(), calls: [], hold: new Map() };
}

/**
 * Makes `page` see a browser wallet, as an extension would provide one: an EIP-1193 provider
 * announced through EIP-6963 (not on `window.ethereum`, so the page must discover it). Every request
 * crosses to this process, where the wallet answers for its account and chain and forwards the rest
 * (signing and sending included) to the Hardhat network's unlocked accounts.
 */
export async function injectWallet(page: Page, wallet: TestWallet): Promise<void> {
  await page.exposeFunction("__testWalletRequest", async (method: string, params: unknown[]) => {
    wallet.calls.push(method);
    const held = wallet.hold.get(method);
    wallet.hold.delete(method);
    await held;
    if (wallet.reject.delete(method)) return { error: { code: 4001, message: "User rejected the request." } };
    switch (method) {
      case "eth_requestAccounts":
      case "eth_accounts":
        return { result: [wallet.account] };
      case "eth_chainId":
        return { result: toQuantity(wallet.chainId) };
      case "net_version":
        return { result: String(wallet.chainId) };
      case "wallet_switchEthereumChain":
        wallet.chainId = Number((params[0] as { chainId: string }).chainId);
        return { result: null };
    }
    try {
      return { result: await hre.network.provider.request({ method, params }) };
    } catch (error) {
      const e = error as { code?: number; message: string; data?: unknown };
      // Hardhat nests revert data as { data: "0x…" }; wallets hand it over as a plain hex string.
      const data = typeof e.data === "object" && e.data !== null ? (e.data as { data?: unknown }).data : e.data;
      return { error: { code: e.code ?? -32603, message: e.message, data } };
    }
  });
  await page.addInitScript(() => {
    type Listener = (...args: unknown[]) => void;
    const listeners = new Map<string, Set<Listener>>();
    const emit = (event: string, ...args: unknown[]) => listeners.get(event)?.forEach((fn) => fn(...args));
    const bridge = (window as unknown as { __testWalletRequest: (m: string, p: unknown[]) => Promise<{ result?: unknown; error?: { code: number; message: string; data?: unknown } }> })
      .__testWalletRequest;
    const provider = {
      async request({ method, params }: { method: string; params?: unknown[] }) {
        const answer = await bridge(method, params ?? []);
        if (answer.error) throw Object.assign(new Error(answer.error.message), answer.error);
        if (method === "wallet_switchEthereumChain") emit("chainChanged", (params![0] as { chainId: string }).chainId);
        return answer.result;
      },
      on(event: string, fn: Listener) {
        if (!listeners.has(event)) listeners.set(event, new Set());
        listeners.get(event)!.add(fn);
      },
      removeListener(event: string, fn: Listener) {
        listeners.get(event)?.delete(fn);
      },
    };
    const info = {
      uuid: "8a1f9e4c-2b7d-4c1e-9f0a-5d6e7f8a9b0c",
      name: "Test Wallet",
      icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 8 8'%3E%3Ccircle cx='4' cy='4' r='4' fill='%23f6851b'/%3E%3C/svg%3E",
      rdns: "org.example.test-wallet",
    };
    const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail: Object.freeze({ info, provider }) }));
    window.addEventListener("eip6963:requestProvider", announce);
    announce();
  });
}
