import { createHmac, timingSafeEqual } from "node:crypto";

/** What a session token asserts: this address signed in to this gateway, on this chain, until `exp`. */
export interface TokenClaims {
  address: string;
  domain: string;
  chainId: number;
  exp: number;
}

const b64 = (buffer: Buffer): string => buffer.toString("base64url");

/**
 * Stateless session tokens: base64url(JSON claims) "." base64url(HMAC-SHA256). Verifying one costs a
 * hash the first time and a map lookup after, no store lookup, which keeps authentication off the
 * release path's critical cost.
 */
export class TokenSigner {
  constructor(private readonly key: Buffer) {}

  issue(claims: TokenClaims): string {
    const body = b64(Buffer.from(JSON.stringify(claims), "utf8"));
    return `${body}.${b64(this.mac(body))}`;
  }

  /** The claims when the token is authentic, unexpired and bound to `domain` and `chainId`; else null. */
  verify(token: string, domain: string, chainId: number, nowSeconds = Math.floor(Date.now() / 1000)): TokenClaims | null {
    const claims = this.authentic.get(token) ?? this.authenticate(token);
    if (!claims || claims.domain !== domain || claims.chainId !== chainId || !(claims.exp > nowSeconds)) return null;
    return claims;
  }

  /**
   * Tokens whose MAC was checked, so that a service's every request does not pay for the hash
   * again; the claims are still checked on each use. Only authentic tokens are kept.
   */
  private readonly authentic = new Map<string, TokenClaims>();

  private authenticate(token: string): TokenClaims | null {
    const dot = token.indexOf(".");
    if (dot <= 0) return null;
    const body = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), "base64url");
    const expected = this.mac(body);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    let claims: TokenClaims;
    try {
      claims = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as TokenClaims;
    } catch {
      return null;
    }
    if (this.authentic.size >= 10_000) this.authentic.clear();
    this.authentic.set(token, claims);
    return claims;
  }

  private mac(body: string): Buffer {
    return createHmac("sha256", this.key).update(body).digest();
  }
}
