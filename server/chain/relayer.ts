import type { ContractRunner } from "ethers";
import { DataUseRegistry__factory, type DataUseRegistry } from "../../typechain-types";
import { labelToId } from "../../core/ids";
import { GatewayError } from "../errors";
import { decodeRevert } from "./revert";
import { registryInterface } from "./registryEvents";

export type RelayRequest =
  | { action: "grant"; subject: string; grantee: string; category: string; purpose: string; expiresAt: number; deadline: number; signature: string }
  | { action: "changeExpiry"; subject: string; grantId: string; expiresAt: number; deadline: number; signature: string }
  | { action: "revoke"; subject: string; grantId: string; deadline: number; signature: string }
  | { action: "revokeAll"; subject: string; grantee: string; deadline: number; signature: string }
  | { action: "setDataExpiry"; subject: string; category: string; expiresAt: number; deadline: number; signature: string };

/**
 * Submits subjects' EIP-712-signed actions from the gateway's key. Each one is first simulated
 * (eth_call): a bad signature, a passed deadline or a used nonce is answered with the contract's
 * custom error before any gas is spent.
 */
export class Relayer {
  private readonly registry: DataUseRegistry;
  private queue: Promise<unknown> = Promise.resolve();

  /** `onSent` hears each transaction sent (the gateway applies its own revocations once mined, without waiting for its poll). */
  constructor(
    registryAddress: string,
    signer: ContractRunner,
    private readonly onSent: (txHash: string) => void = () => undefined,
  ) {
    this.registry = DataUseRegistry__factory.connect(registryAddress, signer);
  }

  async relay(request: RelayRequest): Promise<{ txHash: string }> {
    const method = this.method(request);
    try {
      await method.staticCall();
    } catch (error) {
      const decoded = decodeRevert(registryInterface, error);
      if (decoded) {
        throw new GatewayError("INVALID_SIGNATURE", `the registry would reject this action: ${decoded.name}(${Object.values(decoded.args).join(", ")})`, {
          cause: error,
          issues: decoded,
        });
      }
      throw new GatewayError("CHAIN_UNAVAILABLE", "the chain could not simulate the action", { cause: error });
    }
    // One submission at a time keeps the relayer's nonces in order.
    const sent = this.queue.then(() => method.send());
    this.queue = sent.catch(() => undefined);
    try {
      const tx = await sent;
      this.onSent(tx.hash);
      return { txHash: tx.hash };
    } catch (error) {
      throw new GatewayError("RELAY_FAILED", "the transaction could not be submitted", { cause: error });
    }
  }

  private method(r: RelayRequest): { staticCall: () => Promise<unknown>; send: () => Promise<{ hash: string }> } {
    const reg = this.registry;
    switch (r.action) {
      case "grant": {
        const args = [r.subject, r.grantee, labelToId(r.category), labelToId(r.purpose), r.expiresAt, r.deadline, r.signature] as const;
        return { staticCall: () => reg.grantBySig.staticCall(...args), send: () => reg.grantBySig(...args) };
      }
      case "changeExpiry": {
        const args = [r.subject, r.grantId, r.expiresAt, r.deadline, r.signature] as const;
        return { staticCall: () => reg.changeExpiryBySig.staticCall(...args), send: () => reg.changeExpiryBySig(...args) };
      }
      case "revoke": {
        const args = [r.subject, r.grantId, r.deadline, r.signature] as const;
        return { staticCall: () => reg.revokeBySig.staticCall(...args), send: () => reg.revokeBySig(...args) };
      }
      case "revokeAll": {
        const args = [r.subject, r.grantee, r.deadline, r.signature] as const;
        return { staticCall: () => reg.revokeAllBySig.staticCall(...args), send: () => reg.revokeAllBySig(...args) };
      }
      case "setDataExpiry": {
        const args = [r.subject, labelToId(r.category), r.expiresAt, r.deadline, r.signature] as const;
        return { staticCall: () => reg.setDataExpiryBySig.staticCall(...args), send: () => reg.setDataExpiryBySig(...args) };
      }
    }
  }
}
