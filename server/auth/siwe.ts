import { randomBytes } from "node:crypto";
import { SiweMessage } from "siwe";
import type { Provider } from "ethers";
import { unauthenticated } from "../errors";
import { TokenSigner } from "./tokens";

export interface SiweOptions {
  /** The RFC 4501 authority the wallet signs in to, e.g. `127.0.0.1:8080`. */
  domain: string;
  chainId: number;
  tokenTtlSeconds: number;
  /** How long an issued nonce may wait for its login. */
  nonceTtlMs?: number;
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
  private readonly nonces = new Map<string, number>();

  constructor(
    private readonly options: SiweOptions,
    private readonly tokens: TokenSigner,
    private readonly provider: Provider,
  ) {}

  newNonce(now = Date.now()): string {
    this.pruneNonces(now);
    const nonce = randomBytes(16).toString("hex");
    this.nonces.set(nonce, now + (this.options.nonceTtlMs ?? 10 * 60_000));
    return nonce;
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
    if (parsed.chainId !== this.options.chainId) {
      throw unauthenticated(`the message is for chain ${parsed.chainId}, not ${this.options.chainId}`);
    }
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

  private pruneNonces(now: number): void {
    if (this.nonces.size < 10_000) return;
    for (const [nonce, expiry] of this.nonces) if (expiry < now) this.nonces.delete(nonce);
  }
}
