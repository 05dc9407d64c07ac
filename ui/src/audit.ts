import { verifyMessage, type Provider } from "ethers";
import { IAuditAnchor__factory } from "../../typechain-types/factories/contracts/interfaces/IAuditAnchor__factory";
import { checkpointNote, entryLeafHash } from "../../core/auditEntry";
import { verifyInclusion } from "../../core/merkle";
import { logIdOf } from "../../core/logOrigin";
import { GatewayRequestError, type AuditEntry, type GatewayClient } from "./gateway";

/** A `CheckpointAnchored` event, as read from the chain by the wallet's provider. */
export interface AnchorEvent {
  treeSize: number;
  rootHash: string;
  blockNumber: number;
  txHash: string;
}

export interface Verification {
  /** Against the gateway's latest signed checkpoint; `null` when none covers the entry yet. */
  checkpoint: { treeSize: number; included: boolean; signatureValid: boolean } | null;
  /** Against the earliest on-chain anchor that covers the entry; `null` when none does yet. */
  anchor: (AnchorEvent & { included: boolean }) | null;
}

/**
 * Every anchored checkpoint of the log named `origin`, read from AuditAnchor's events (not from the
 * gateway: the chain is the witness). Only role holders can anchor, so every event is an anchorer's.
 */
export async function readAnchors(provider: Provider, address: string, fromBlock: number, origin: string): Promise<AnchorEvent[]> {
  const anchor = IAuditAnchor__factory.connect(address, provider);
  const events = await anchor.queryFilter(anchor.filters.CheckpointAnchored(logIdOf(origin)), fromBlock);
  return events.map((e) => ({ treeSize: Number(e.args.treeSize), rootHash: e.args.rootHash, blockNumber: e.blockNumber, txHash: e.transactionHash }));
}

/**
 * Checks, in the browser, that `entry` as served is in the log: its leaf hash is computed here from
 * the entry's fields, and its inclusion proof must lead to the root of the latest checkpoint, whose
 * signature must be the gateway's checkpoint signer's; then likewise to the root of the first on-chain anchor whose tree
 * holds it. The gateway supplies only the proof hashes, which it cannot forge.
 */
export async function verifyEntry(entry: AuditEntry, deps: { gateway: GatewayClient; checkpointSigner: string; anchors: () => Promise<AnchorEvent[]> }): Promise<Verification> {
  const leaf = entryLeafHash(entry);
  const included = async (treeSize: number, root: string) => {
    const { leafHash, proof } = await deps.gateway.inclusionProof(entry.index, treeSize);
    return leafHash.toLowerCase() === leaf.toLowerCase() && verifyInclusion(leaf, entry.index, treeSize, proof, root);
  };

  let checkpoint: Verification["checkpoint"] = null;
  const latest = await deps.gateway.checkpoint().catch((error: unknown) => {
    if (error instanceof GatewayRequestError && error.code === "NOT_FOUND") return null;
    throw error;
  });
  if (latest && entry.index < latest.treeSize) {
    const signatureValid =
      latest.note === checkpointNote(latest.origin, latest.treeSize, latest.rootHash) &&
      verifyMessage(latest.note, latest.signature).toLowerCase() === deps.checkpointSigner.toLowerCase();
    checkpoint = { treeSize: latest.treeSize, included: await included(latest.treeSize, latest.rootHash), signatureValid };
  }

  const covering = (await deps.anchors()).filter((a) => a.treeSize > entry.index).sort((a, b) => a.treeSize - b.treeSize)[0];
  const anchor = covering ? { ...covering, included: await included(covering.treeSize, covering.rootHash) } : null;
  return { checkpoint, anchor };
}
