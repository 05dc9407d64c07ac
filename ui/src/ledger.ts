import { BrowserProvider, type JsonRpcSigner, type TransactionReceipt } from "ethers";
import { DataUseRegistry__factory } from "../../typechain-types/factories/contracts/DataUseRegistry__factory";
import type { DataUseRegistry } from "../../typechain-types/contracts/DataUseRegistry";
import { labelToId } from "../../core/ids";
import { readDomain, typesFor, type SignedActionKind } from "../../core/eip712";
import { GatewayRequestError, type GatewayClient, type PublicConfig, type RelayRequest } from "./gateway";
import type { Eip1193Provider } from "./wallet";

/** A change a subject makes to its grants or data expiries; names match the relay's `action`. */
export type LedgerAction =
  | { action: "grant"; grantee: string; category: string; purpose: string; expiresAt: number }
  | { action: "changeExpiry"; grantId: string; expiresAt: number }
  | { action: "revoke"; grantId: string }
  | { action: "revokeAll"; grantee: string }
  | { action: "setDataExpiry"; category: string; expiresAt: number };

/** Gas from the wallet, or an EIP-712 signature the gateway relays. */
export type SendMode = "wallet" | "gasless";

export type Progress =
  | { stage: "confirm"; typed?: { primaryType: SignedActionKind; fields: { name: string; value: string }[] } }
  | { stage: "relaying" }
  | { stage: "pending"; txHash: string }
  | { stage: "indexing"; txHash: string; blockNumber: number };

const SIGNED_KIND: Record<LedgerAction["action"], SignedActionKind> = {
  grant: "Grant",
  changeExpiry: "ChangeExpiry",
  revoke: "Revoke",
  revokeAll: "RevokeAll",
  setDataExpiry: "SetDataExpiry",
};

/** How long a relayed signature stays usable: enough for the gateway to submit it, short enough to be worthless later. */
const SIGNATURE_LIFETIME_S = 3600;

/** A transaction that was mined but reverted. */
export class TransactionFailedError extends Error {
  override readonly name = "TransactionFailedError";
  constructor(readonly receipt: TransactionReceipt) {
    super(`transaction ${receipt.hash} reverted in block ${receipt.blockNumber}`);
  }
}

/**
 * The subject's side of DataUseRegistry, through its wallet: reads (nonces, data expiries, the
 * EIP-712 domain, events) go through the wallet's provider, writes either as the wallet's own
 * transaction or as a typed-data signature relayed by the gateway.
 */
export class Ledger {
  readonly provider: BrowserProvider;
  readonly registry: DataUseRegistry;

  constructor(
    wallet: Eip1193Provider,
    private readonly subject: string,
    config: PublicConfig,
    private readonly gateway: GatewayClient,
  ) {
    // No response cache: a person verifying again right after an anchor must see the chain as it is now.
    this.provider = new BrowserProvider(wallet, config.chainId, { cacheTimeout: -1 });
    this.registry = DataUseRegistry__factory.connect(config.contracts.DataUseRegistry.address, this.provider);
  }

  /** The chain head: its hash, and its timestamp, the registry's "now", which a local chain may have moved ahead of the wall clock. */
  async head(): Promise<{ hash: string | null; timestamp: number }> {
    const block = await this.provider.getBlock("latest");
    return { hash: block?.hash ?? null, timestamp: block?.timestamp ?? Math.floor(Date.now() / 1000) };
  }

  /**
   * Carries out `action`, reporting each stage; resolves once mined and the gateway's index has
   * read that block, so that what the page shows next includes it.
   */
  async send(action: LedgerAction, mode: SendMode, describe: (name: string, value: unknown) => string, onProgress: (p: Progress) => void): Promise<TransactionReceipt> {
    const txHash = mode === "wallet" ? await this.sendFromWallet(action, onProgress) : await this.signAndRelay(action, describe, onProgress);
    onProgress({ stage: "pending", txHash });
    const receipt = await this.waitForReceipt(txHash);
    if (receipt.status !== 1) throw new TransactionFailedError(receipt);
    await this.handOver(txHash);
    onProgress({ stage: "indexing", txHash, blockNumber: receipt.blockNumber });
    await this.waitForIndex(receipt.blockNumber);
    return receipt;
  }

  private async signer(): Promise<JsonRpcSigner> {
    return this.provider.getSigner(this.subject);
  }

  private async sendFromWallet(a: LedgerAction, onProgress: (p: Progress) => void): Promise<string> {
    const registry = this.registry.connect(await this.signer());
    onProgress({ stage: "confirm" });
    // ethers estimates gas first: a call the registry would revert fails here, with its custom error, before the wallet asks for anything.
    switch (a.action) {
      case "grant":
        return (await registry.grant(a.grantee, labelToId(a.category), labelToId(a.purpose), a.expiresAt)).hash;
      case "changeExpiry":
        return (await registry.changeExpiry(a.grantId, a.expiresAt)).hash;
      case "revoke":
        return (await registry.revoke(a.grantId)).hash;
      case "revokeAll":
        return (await registry.revokeAll(a.grantee)).hash;
      case "setDataExpiry":
        return (await registry.setDataExpiry(labelToId(a.category), a.expiresAt)).hash;
    }
  }

  private async signAndRelay(a: LedgerAction, describe: (name: string, value: unknown) => string, onProgress: (p: Progress) => void): Promise<string> {
    const kind = SIGNED_KIND[a.action];
    const [domain, nonce, head] = await Promise.all([readDomain(this.registry), this.registry.nonces(this.subject), this.head()]);
    const deadline = head.timestamp + SIGNATURE_LIFETIME_S;
    const message: Record<string, unknown> = { subject: this.subject, ...signedFields(a), nonce, deadline };
    const fields = typesFor(kind)[kind].map((f) => ({ name: f.name, value: describe(f.name, message[f.name]) }));
    onProgress({ stage: "confirm", typed: { primaryType: kind, fields } });
    const signature = await (await this.signer()).signTypedData(domain, typesFor(kind), message);
    onProgress({ stage: "relaying" });
    const { txHash } = await this.gateway.relay({ ...a, subject: this.subject, deadline, signature } as RelayRequest);
    return txHash;
  }

  /**
   * Hands the mined transaction to the gateway, so that a revocation holds from now on rather than
   * from its next read of the chain. The gateway's node may be a moment behind the wallet's: a
   * transaction it does not know yet is handed over again a few times. Best effort: the gateway's
   * poll reads the block anyway.
   */
  private async handOver(txHash: string, attempts = 5): Promise<void> {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        await this.gateway.handOver(txHash);
        return;
      } catch (error) {
        const retry = error instanceof GatewayRequestError && ["TX_NOT_FOUND", "CHAIN_UNAVAILABLE", "RATE_LIMITED", "NETWORK"].includes(error.code);
        if (!retry || attempt === attempts) return;
        await sleep(300 * attempt);
      }
    }
  }

  private async waitForReceipt(txHash: string, timeoutMs = 180_000): Promise<TransactionReceipt> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const receipt = await this.provider.getTransactionReceipt(txHash);
      if (receipt) return receipt;
      if (Date.now() > deadline) throw new Error(`transaction ${txHash} was not mined within ${timeoutMs / 1000} s`);
      await sleep(400);
    }
  }

  private async waitForIndex(blockNumber: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const indexedBlock = await this.gateway.indexedBlock(this.subject);
      if ((indexedBlock ?? -1) >= blockNumber || Date.now() > deadline) return;
      await sleep(250);
    }
  }
}

/** The action's fields as its EIP-712 struct names them: labels become their on-chain ids. */
function signedFields(a: LedgerAction): Record<string, unknown> {
  switch (a.action) {
    case "grant":
      return { grantee: a.grantee, category: labelToId(a.category), purpose: labelToId(a.purpose), expiresAt: a.expiresAt };
    case "changeExpiry":
      return { grantId: a.grantId, expiresAt: a.expiresAt };
    case "revoke":
      return { grantId: a.grantId };
    case "revokeAll":
      return { grantee: a.grantee };
    case "setDataExpiry":
      return { category: labelToId(a.category), expiresAt: a.expiresAt };
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
