import { BrowserProvider, getAddress, toQuantity, type Eip1193Provider as EthersEip1193 } from "ethers";
import type { GatewayClient, PublicConfig, Session } from "./gateway";

/** EIP-1193: what every injected wallet exposes. */
export interface Eip1193Provider extends EthersEip1193 {
  on?(event: string, listener: (...args: unknown[]) => void): void;
  removeListener?(event: string, listener: (...args: unknown[]) => void): void;
}

/** EIP-6963: how a wallet introduces itself. */
export interface WalletInfo {
  uuid: string;
  name: string;
  icon: string;
  rdns: string;
}

export interface DiscoveredWallet {
  info: WalletInfo;
  provider: Eip1193Provider;
}

interface AnnounceEvent extends Event {
  detail: DiscoveredWallet;
}

declare global {
  interface Window {
    ethereum?: Eip1193Provider;
  }
}

/** How long to wait for EIP-6963 announcements before falling back to `window.ethereum`. */
const DISCOVERY_MS = 400;

/**
 * Finds injected wallets through EIP-6963 (several may answer), falling back to the legacy
 * `window.ethereum` when none announces itself in time. `onDone` fires once discovery settles;
 * later announcements still reach `onChange`.
 */
export function discoverWallets(onChange: (wallets: DiscoveredWallet[]) => void, onDone: () => void): () => void {
  const found = new Map<string, DiscoveredWallet>();
  const announce = (event: Event) => {
    const { info, provider } = (event as AnnounceEvent).detail ?? {};
    if (!info?.uuid || typeof provider?.request !== "function") return;
    found.set(info.uuid, { info, provider });
    onChange([...found.values()]);
  };
  window.addEventListener("eip6963:announceProvider", announce);
  window.dispatchEvent(new Event("eip6963:requestProvider"));
  const timer = setTimeout(() => {
    if (found.size === 0 && window.ethereum) {
      found.set("window.ethereum", {
        info: { uuid: "window.ethereum", name: "Browser wallet", icon: "", rdns: "" },
        provider: window.ethereum,
      });
      onChange([...found.values()]);
    }
    onDone();
  }, DISCOVERY_MS);
  return () => {
    clearTimeout(timer);
    window.removeEventListener("eip6963:announceProvider", announce);
  };
}

/** Asks the wallet for an account (a prompt in the wallet) and reads its chain. */
export async function connectWallet(provider: Eip1193Provider): Promise<{ account: string; chainId: number }> {
  const accounts = (await provider.request({ method: "eth_requestAccounts" })) as string[];
  if (!accounts?.length) throw new Error("the wallet returned no account");
  return { account: accounts[0].toLowerCase(), chainId: await readChainId(provider) };
}

export async function readChainId(provider: Eip1193Provider): Promise<number> {
  return Number(await provider.request({ method: "eth_chainId" }));
}

/** Names of chains a person may have their wallet on by mistake. */
const CHAIN_NAMES: Record<number, string> = {
  1: "Ethereum mainnet",
  10: "OP Mainnet",
  137: "Polygon",
  8453: "Base",
  42161: "Arbitrum One",
  11155111: "Sepolia",
  31337: "the local Hardhat chain",
};

export const chainName = (chainId: number): string => CHAIN_NAMES[chainId] ?? `chain ${chainId}`;

/**
 * Asks the wallet to switch to the ledger's chain, and to add it first if it does not know it (4902).
 * The gateway does not publish an RPC URL: adding is offered for the local chain `npm start` runs.
 */
export async function switchChain(provider: Eip1193Provider, chainId: number): Promise<void> {
  const hexId = toQuantity(chainId);
  try {
    await provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId: hexId }] });
  } catch (error) {
    if ((error as { code?: number }).code !== 4902 || chainId !== 31337) throw error;
    await provider.request({
      method: "wallet_addEthereumChain",
      params: [{ chainId: hexId, chainName: "data-use-ledger local chain", rpcUrls: ["http://127.0.0.1:8545"], nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 } }],
    });
  }
}

/**
 * The EIP-4361 message, written out here rather than with the `siwe` package the gateway parses it
 * with: that package pulls a second, CommonJS copy of ethers into the page (about 600 kB).
 * test/e2e checks the gateway accepts what this writes.
 */
function siweMessage(fields: { domain: string; address: string; statement: string; uri: string; chainId: number; nonce: string; issuedAt: string }): string {
  return [
    `${fields.domain} wants you to sign in with your Ethereum account:`,
    getAddress(fields.address),
    "",
    fields.statement,
    "",
    `URI: ${fields.uri}`,
    "Version: 1",
    `Chain ID: ${fields.chainId}`,
    `Nonce: ${fields.nonce}`,
    `Issued At: ${fields.issuedAt}`,
  ].join("\n");
}

/** Sign-In with Ethereum to the gateway's domain and chain; one `personal_sign` prompt. */
export async function signIn(provider: Eip1193Provider, account: string, config: PublicConfig, gateway: GatewayClient): Promise<Session> {
  const { nonce } = await gateway.nonce();
  const signer = await new BrowserProvider(provider, config.chainId).getSigner(account);
  const message = siweMessage({
    domain: config.domain,
    address: account,
    statement: "Sign in to the data-use-ledger gateway",
    uri: config.origin,
    chainId: config.chainId,
    nonce,
    issuedAt: new Date().toISOString(),
  });
  const signature = await signer.signMessage(message);
  return gateway.login(message, signature);
}

const sessionKey = (account: string, config: PublicConfig) => `dul.session.${config.chainId}.${config.domain}.${account}`;

/** A session survives a reload of the tab (not the tab's closing), until its token expires. */
export function savedSession(account: string, config: PublicConfig): Session | null {
  try {
    const raw = sessionStorage.getItem(sessionKey(account, config));
    const session = raw ? (JSON.parse(raw) as Session) : null;
    return session && Date.parse(session.expiresAt) > Date.now() + 30_000 ? session : null;
  } catch {
    return null;
  }
}

export function saveSession(account: string, config: PublicConfig, session: Session | null): void {
  try {
    if (session) sessionStorage.setItem(sessionKey(account, config), JSON.stringify(session));
    else sessionStorage.removeItem(sessionKey(account, config));
  } catch {
    // Storage may be disabled (private mode): the person signs in again after a reload.
  }
}
