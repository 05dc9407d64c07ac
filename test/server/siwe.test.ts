import hre from "hardhat";
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Wallet } from "ethers";
import { SiweMessage } from "siwe";
import { SiweAuth } from "../../server/auth/siwe";
import { TokenSigner } from "../../server/auth/tokens";
import { GatewayError } from "../../server/errors";

const VECTORS = join(__dirname, "..", "..", "..", "shared", "testdata", "siwe");
const vectors = (name: string): Record<string, any> => JSON.parse(readFileSync(join(VECTORS, `${name}.json`), "utf8"));
/** A well-formed signature by nobody a message names: refused for not matching, not for its shape. */
const STRANGERS_SIGNATURE = new Wallet("0x" + "42".repeat(32)).signMessageSync("another message");

/** A sign-in with its domain, origin, chain, nonce and clock injected, as a vector asks. */
function authFor(options: { domain: string; origin: string; chainId?: number; nonce: string }) {
  const auth = new SiweAuth(
    { domain: options.domain, origin: options.origin, chainId: options.chainId ?? 1, tokenTtlSeconds: 900, nonceSource: () => options.nonce },
    new TokenSigner(Buffer.alloc(32, 1)),
    hre.ethers.provider,
  );
  return auth;
}

/** What a refusal must be: a GatewayError of 400 or 401, never anything that would answer 500. */
async function expectRefused(attempt: Promise<unknown>, name: string): Promise<void> {
  const outcome = await attempt.then(
    () => "signed in",
    (error: unknown) => error,
  );
  expect(outcome, name).to.be.instanceOf(GatewayError);
  expect([400, 401], `${name}: ${(outcome as GatewayError).message}`).to.include((outcome as GatewayError).status);
}

describe("Sign-In with Ethereum against the spruceid vectors (domain, chain, nonce and clock injected)", function () {
  it("signs in every positive verification vector", async function () {
    for (const [name, v] of Object.entries(vectors("verification_positive"))) {
      const { signature, time, ...fields } = v;
      const message = new SiweMessage(fields).prepareMessage();
      const now = Date.parse(time ?? fields.issuedAt);
      const auth = authFor({ domain: fields.domain, origin: new URL(fields.uri).origin, nonce: fields.nonce });
      auth.newNonce(now);
      const session = await auth.login(message, signature, now);
      expect(session.address, name).to.equal(fields.address.toLowerCase());
    }
  });

  it("refuses every negative verification vector with 400 or 401", async function () {
    for (const [name, v] of Object.entries(vectors("verification_negative"))) {
      const { signature, time, domainBinding, matchNonce, ...fields } = v;
      let message: string;
      try {
        message = new SiweMessage(fields).prepareMessage();
      } catch {
        // Fields the message format cannot even hold (an impossible date): the gateway sees only text.
        message = Object.entries(fields).map(([k, value]) => `${k}: ${value}`).join("\n");
      }
      const now = Date.parse(time ?? "2023-01-01T00:00:00Z");
      const auth = authFor({ domain: domainBinding ?? fields.domain, origin: new URL(fields.uri).origin, nonce: matchNonce ?? fields.nonce });
      auth.newNonce(now);
      await expectRefused(auth.login(message, signature, now), name);
    }
  });

  it("refuses every message of the negative parsing vectors, as text and as fields, with 400 or 401", async function () {
    const texts: [string, string][] = Object.entries(vectors("parsing_negative")).map(([name, text]) => [name, text as string]);
    for (const [name, fields] of Object.entries(vectors("parsing_negative_objects"))) {
      let text: string;
      try {
        text = new SiweMessage(fields).prepareMessage();
      } catch {
        continue; // refused before any text exists: nothing could reach the gateway
      }
      texts.push([`object: ${name}`, text]);
    }
    for (const [name, text] of texts) {
      const auth = authFor({ domain: "service.org", origin: "https://service.org", nonce: "32891757" });
      auth.newNonce(Date.parse("2022-01-01T00:00:00Z"));
      await expectRefused(auth.login(text, STRANGERS_SIGNATURE, Date.parse("2022-01-01T00:00:00Z")), name);
    }
  });

  it("parses every positive parsing vector and then refuses it only for its signature", async function () {
    for (const [name, { message, fields }] of Object.entries(vectors("parsing_positive")) as [string, { message: string; fields: any }][]) {
      const uri = (() => {
        try {
          return new URL(fields.uri).origin;
        } catch {
          return "null";
        }
      })();
      const auth = authFor({ domain: fields.domain, origin: uri, chainId: fields.chainId, nonce: fields.nonce });
      const now = Date.parse(fields.issuedAt);
      auth.newNonce(now);
      const error = await auth.login(message, STRANGERS_SIGNATURE, now).then(() => null, (e: Error) => e);
      expect(error, name).to.be.instanceOf(GatewayError);
      expect((error as GatewayError).message, name).to.match(/signature/);
    }
  });
});

describe("Sign-In with Ethereum: the gateway's own bindings", function () {
  const domain = "127.0.0.1:8080";
  const origin = "http://127.0.0.1:8080";

  async function signed(uri: string, nonce: string) {
    const [, wallet] = await hre.ethers.getSigners();
    const message = new SiweMessage({ domain, address: wallet.address, uri, version: "1", chainId: 31337, nonce, issuedAt: new Date(0).toISOString() }).prepareMessage();
    return { message, signature: await wallet.signMessage(message), address: wallet.address.toLowerCase() };
  }

  it("refuses a message whose URI is another origin than this gateway's", async function () {
    const auth = new SiweAuth({ domain, origin, chainId: 31337, tokenTtlSeconds: 900 }, new TokenSigner(Buffer.alloc(32, 1)), hre.ethers.provider);
    for (const uri of ["https://evil.example/login", "http://127.0.0.1:8081", "https://127.0.0.1:8080"]) {
      const { message, signature } = await signed(uri, auth.newNonce(1000));
      await expectRefused(auth.login(message, signature, 1000), uri);
    }
    const { message, signature, address } = await signed(`${origin}/wallet`, auth.newNonce(1000));
    expect((await auth.login(message, signature, 1000)).address).to.equal(address);
  });

  it("forgets nonces once they expire: a flood of nonce requests leaves nothing behind", function () {
    const auth = new SiweAuth({ domain, origin, chainId: 31337, tokenTtlSeconds: 900, nonceTtlMs: 60_000 }, new TokenSigner(Buffer.alloc(32, 1)), hre.ethers.provider);
    for (let i = 0; i < 5000; i++) auth.newNonce(1_000_000);
    expect(auth.pendingNonces).to.equal(5000);
    auth.newNonce(1_000_000 + 60_001);
    expect(auth.pendingNonces).to.equal(1);
  });

  it("holds at most maxPendingNonces, dropping the oldest first", function () {
    const auth = new SiweAuth({ domain, origin, chainId: 31337, tokenTtlSeconds: 900, maxPendingNonces: 100 }, new TokenSigner(Buffer.alloc(32, 1)), hre.ethers.provider);
    const first = auth.newNonce(0);
    for (let i = 0; i < 150; i++) auth.newNonce(0);
    expect(auth.pendingNonces).to.equal(100);
    expect(auth.hasNonce(first)).to.equal(false);
  });
});
