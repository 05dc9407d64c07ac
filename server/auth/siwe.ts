import { randomBytes } from "node:crypto";
import { SiweMessage } from "siwe";
import type { Provider } from "ethers";
import { unauthenticated } from "../errors";
import { TokenSigner } from "./tokens";

export interface SiweOptions {
  /** The RFC 4501 authority the wallet signs in to, e.g. `127.0.0.1:8080`. */
  domain: string;
  /** This gateway's origin: a message's URI must lie under it. */
  origin: string;
  chainId: number;
  tokenTtlSeconds: number;
  /** How long an issued nonce may wait for its login. */
  nonceTtlMs?: number;
  /** The most nonces waiting at once; past it the oldest is dropped (default 100,000). */
  maxPendingNonces?: number;
  /** Where nonces come from (tests inject a vector's). */
  nonceSource?: () => string;
}

export interface Session {
  token: string;
  address: string;
  expiresAt: string;
}

/**
 * Sign-In with Ethereum (EIP-4361). Nonces are single-use and expire; the signature is checked by
 * the `siwe` package, which falls back to EIP-1271 through the provider for contract wallets.
 */
export class SiweAuth {
  /** Nonce → expiry. All share one lifetime, so insertion order is expiry order: the oldest come first. */
  private readonly nonces = new Map<string, number>();

  constructor(
    private readonly options: SiweOptions,
    private readonly tokens: TokenSigner,
    private readonly provider: Provider,
  ) {}

  newNonce(now = Date.now()): string {
    this.pruneNonces(now);
    const nonce = this.options.nonceSource?.() ?? randomBytes(16).toString("hex");
    this.nonces.delete(nonce);
    this.nonces.set(nonce, now + (this.options.nonceTtlMs ?? 10 * 60_000));
    return nonce;
  }

  get pendingNonces(): number {
    return this.nonces.size;
  }

  hasNonce(nonce: string): boolean {
    return this.nonces.has(nonce);
  }

  async login(message: string, signature: string, now = Date.now()): Promise<Session> {
    let parsed: SiweMessage;
    try {
      parsed = new SiweMessage(message);
    } catch {
      throw unauthenticated("the message is not an EIP-4361 sign-in message");
    }
    if (parsed.domain !== this.options.domain) {
      throw unauthenticated(`the message signs in to ${parsed.domain}, not ${this.options.domain}`);
    }
    if (!this.underOrigin(parsed.uri)) {
      throw unauthenticated(`the message's URI ${parsed.uri} is not under ${this.options.origin}`);
    }
    if (parsed.chainId !== this.options.chainId) {
      throw unauthenticated(`the message is for chain ${parsed.chainId}, not ${this.options.chainId}`);
    }
    // The route's schema checks this too; here it keeps a caller of login() from the verifier's own errors.
    if (!/^0x(?:[0-9a-fA-F]{2})+$/.test(signature)) throw unauthenticated("the signature is not 0x-prefixed hex bytes");
    const nonceExpiry = this.nonces.get(parsed.nonce);
    // Consumed before the signature check so that a nonce never serves twice, whatever the outcome.
    this.nonces.delete(parsed.nonce);
    if (nonceExpiry === undefined || nonceExpiry < now) {
      throw unauthenticated("unknown, used or expired nonce: ask GET /v1/auth/nonce for a new one");
    }
    const result = await parsed
      .verify(
        { signature, domain: this.options.domain, nonce: parsed.nonce, time: new Date(now).toISOString() },
        { provider: this.provider as never, suppressExceptions: true },
      )
      .catch(() => ({ success: false }));
    if (!result.success) throw unauthenticated("the signature does not match the message's address");

    const nowSeconds = Math.floor(now / 1000);
    let exp = nowSeconds + this.options.tokenTtlSeconds;
    if (parsed.expirationTime) exp = Math.min(exp, Math.floor(Date.parse(parsed.expirationTime) / 1000));
    const address = parsed.address.toLowerCase();
    const token = this.tokens.issue({ address, domain: this.options.domain, chainId: this.options.chainId, exp });
    return { token, address, expiresAt: new Date(exp * 1000).toISOString() };
  }

  /** The signed-in address of a bearer token, or null. */
  authenticate(token: string): string | null {
    return this.tokens.verify(token, this.options.domain, this.options.chainId)?.address ?? null;
  }

  private underOrigin(uri: string): boolean {
    try {
      return new URL(uri).origin === new URL(this.options.origin).origin;
    } catch {
      return false;
    }
  }

  /** Drops expired nonces from the front, then the oldest past the cap: each nonce is visited once. */
  private pruneNonces(now: number): void {
    const cap = (this.options.maxPendingNonces ?? 100_000) - 1;
    for (const [nonce, expiry] of this.nonces) {
      if (expiry >= now && this.nonces.size <= cap) break;
      this.nonces.delete(nonce);
    }
  }
}
