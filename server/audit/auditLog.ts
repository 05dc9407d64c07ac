import { hexlify, type Signer } from "ethers";
import type { Logger } from "pino";
import { checkpointNote } from "../../core/auditEntry";
import { LogReplay } from "../../core/logReplay";
import { MerkleTree } from "../../core/merkleTree";
import { logVerifierKey } from "../../core/checkpoint";
import { ed25519Signer, signNote, type NoteSigner } from "../../core/signedNote";
import { invalidInput } from "../errors";
import { Cosigning } from "../witness/cosigning";
import type { NoteKey } from "./noteKey";
import type { AccessLogStore, AnchorRecord, SignedCheckpoint } from "../store/types";
import type { Anchoring } from "./anchoring";

export interface AuditLogOptions {
  /** Names this log in every checkpoint: chain id and AuditAnchor address. */
  origin: string;
  checkpointIntervalMs: number;
  /** The log's Ed25519 key: signs each checkpoint as a C2SP signed note, under the origin's name. */
  noteKey: NoteKey;
  /** The witnesses each checkpoint is sent to; none when no WITNESS_URLS are set. */
  witnessUrls?: readonly string[];
  witnessTimeoutMs?: number;
}

/** Raised when the stored log no longer matches what the gateway already signed: it stops signing. */
export class LogIntegrityError extends Error {
  override readonly name = "LogIntegrityError";
}

const PAGE = 10_000;

/**
 * The access log's Merkle tree, its signed checkpoints and its on-chain anchors. The tree follows the
 * store (entries are appended by the store, inside the writers' transactions), so it only ever
 * catches up with committed entries. Before signing, it checks the new tree extends the last signed
 * one; a log rewritten behind its back makes it stop signing and anchoring, and say so.
 */
export class AuditLog {
  private readonly tree = new MerkleTree();
  private checkpointTimer: NodeJS.Timeout | null = null;
  private signing: Promise<SignedCheckpoint | null> | null = null;
  /** Set once the stored log contradicts a signed checkpoint; nothing is signed after that. */
  integrityError: LogIntegrityError | null = null;
  private readonly noteSigner: NoteSigner;
  private readonly cosigning: Cosigning;
  private lastCosigning: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: AccessLogStore,
    private readonly signer: Signer,
    private readonly options: AuditLogOptions,
    private readonly logger: Logger,
    /** Puts checkpoints on-chain, with its own key and schedule. */
    readonly anchoring: Anchoring,
  ) {
    this.noteSigner = ed25519Signer(options.origin, options.noteKey);
    this.cosigning = new Cosigning(options.witnessUrls ?? [], {
      consistencyProof: (from, to) => this.tree.consistencyProof(from, to),
      save: (treeSize, lines) => this.store.addCosignatures(treeSize, lines),
      logger,
      timeoutMs: options.witnessTimeoutMs ?? 5000,
    });
  }

  /** The log's verifier key (`origin+id+base64(0x01 || key)`), which witnesses are configured with. */
  get verifierKey(): string {
    return logVerifierKey(this.options.origin, this.options.noteKey.publicKey);
  }

  /** Resolves once every witness answered the latest checkpoint sent (or failed): for tests and the bench. */
  cosigned(): Promise<void> {
    return this.lastCosigning;
  }

  get size(): number {
    return this.tree.size;
  }

  /**
   * Rebuilds the tree from the entries themselves (not the stored leaf hashes) and checks the hash
   * chain and every signed checkpoint against it: an entry edited in the database is found here.
   */
  verifyStoredLog(): void {
    const total = this.store.logSize();
    const replay = new LogReplay(this.tree);
    for (let from = 0; from < total; from += PAGE) {
      for (const entry of this.store.readLog(from, Math.min(total, from + PAGE))) {
        const found = replay.push(entry);
        if (found) return this.fail(`the stored log is broken at entry ${found.index}: ${found.evidence}`);
      }
    }
    for (const checkpoint of this.store.listCheckpoints(0, Number.MAX_SAFE_INTEGER)) {
      if (checkpoint.treeSize > this.tree.size) return this.fail(`the log is shorter than its signed checkpoint of size ${checkpoint.treeSize}`);
      if (hexlify(this.tree.rootAt(checkpoint.treeSize)) !== checkpoint.rootHash) {
        return this.fail(`the log does not match its signed checkpoint of size ${checkpoint.treeSize}`);
      }
    }
  }

  /** Appends committed entries the tree has not seen yet. */
  catchUp(): void {
    const total = this.store.logSize();
    while (this.tree.size < total) {
      const hashes = this.store.readLeafHashes(this.tree.size, Math.min(total, this.tree.size + PAGE));
      if (hashes.length === 0) break;
      for (const hash of hashes) this.tree.appendLeafHash(hash);
    }
  }

  latestCheckpoint(): SignedCheckpoint | null {
    return this.store.latestCheckpoint();
  }

  latestAnchor(): AnchorRecord | null {
    return this.store.latestAnchor();
  }

  listCheckpoints(fromSize: number, limit: number): SignedCheckpoint[] {
    return this.store.listCheckpoints(fromSize, limit);
  }

  /** Signs a checkpoint of the current tree if it grew; concurrent callers share one signing. */
  checkpoint(): Promise<SignedCheckpoint | null> {
    this.signing ??= this.signCheckpoint().finally(() => {
      this.signing = null;
    });
    return this.signing;
  }

  /** Anchors the latest signed checkpoint on-chain if it is newer than the last anchor. */
  anchor(): Promise<AnchorRecord | null> {
    return this.anchoring.anchor(() => this.checkpointToAnchor());
  }

  /** Proofs reach only as far as `durableSize`: a tree served and then lost to a power cut would come back different. */
  inclusionProof(index: number, treeSize: number, durableSize = Number.POSITIVE_INFINITY): { index: number; treeSize: number; leafHash: string; proof: string[] } {
    this.catchUp();
    const size = Math.min(this.tree.size, durableSize);
    if (treeSize > size || index >= treeSize) {
      throw invalidInput(`need index < treeSize <= ${size}`);
    }
    return { index, treeSize, leafHash: hexlify(this.tree.leafHash(index)), proof: this.tree.inclusionProof(index, treeSize).map((h) => hexlify(h)) };
  }

  consistencyProof(from: number, to: number, durableSize = Number.POSITIVE_INFINITY): { from: number; to: number; proof: string[] } {
    this.catchUp();
    const size = Math.min(this.tree.size, durableSize);
    if (to > size || from > to || from < 1) throw invalidInput(`need 1 <= from <= to <= ${size}`);
    return { from, to, proof: this.tree.consistencyProof(from, to).map((h) => hexlify(h)) };
  }

  start(): void {
    this.checkpointTimer ??= setInterval(() => void this.checkpoint().catch((err) => this.logger.error({ err }, "checkpoint failed")), this.options.checkpointIntervalMs);
    this.checkpointTimer.unref?.();
    this.anchoring.start(() => this.checkpointToAnchor(), this.store.logSize() > 0);
  }

  async stop(): Promise<void> {
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    this.checkpointTimer = null;
    await Promise.allSettled([this.signing, this.anchoring.stop()]);
  }

  private async signCheckpoint(): Promise<SignedCheckpoint | null> {
    if (this.integrityError) throw this.integrityError;
    this.catchUp();
    const size = this.tree.size;
    const last = this.store.latestCheckpoint();
    if (size === 0 || (last && last.treeSize >= size)) return null;
    if (last && hexlify(this.tree.rootAt(last.treeSize)) !== last.rootHash) {
      this.fail(`the tree at size ${last.treeSize} no longer matches the signed checkpoint`);
      throw this.integrityError;
    }
    const rootHash = hexlify(this.tree.rootAt(size));
    const note = checkpointNote(this.options.origin, size, rootHash);
    const signature = await this.signer.signMessage(note);
    const checkpoint: SignedCheckpoint = {
      treeSize: size,
      rootHash,
      origin: this.options.origin,
      note,
      signature,
      signer: (await this.signer.getAddress()).toLowerCase(),
      signedAt: Date.now(),
      signedNote: signNote(note, [this.noteSigner]),
      cosignatures: [],
    };
    this.store.saveCheckpoint(checkpoint);
    // Witnesses are asked after the checkpoint is stored and never waited for: one that is down
    // must not hold up signing, anchoring or releases.
    if (this.cosigning.witnessCount > 0) this.lastCosigning = this.cosigning.submit({ treeSize: size, signedNote: checkpoint.signedNote! });
    return checkpoint;
  }

  /** The newest signed checkpoint, signing one first if the tree grew; none once the log is found rewritten. */
  private async checkpointToAnchor(): Promise<SignedCheckpoint | null> {
    if (this.integrityError) throw this.integrityError;
    return (await this.checkpoint()) ?? this.store.latestCheckpoint();
  }

  private fail(message: string): void {
    this.integrityError = new LogIntegrityError(message);
    this.logger.error({ err: this.integrityError }, "the access log contradicts what was signed: checkpoints stopped");
  }
}
