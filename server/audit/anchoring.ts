import { hexlify, type ContractRunner, type Signer } from "ethers";
import type { Logger } from "pino";
import { AuditAnchor__factory } from "../../typechain-types";
import { logIdOf } from "../../core/logOrigin";
import { ConfigError } from "../config/env";
import type { AnchorRecord, SignedCheckpoint } from "../store/types";

export interface AnchoringOptions {
  /** The log's name in its checkpoints; AuditAnchor files it under `logIdOf(origin)`. */
  origin: string;
  anchorAddress: string;
  /** This gateway's checkpoint note key (raw Ed25519 public key): the registered log must name it. */
  noteKey: Buffer;
  /** MAX_HEAD_AGE_SECONDS: may not exceed the registered log's window, which the auditor applies. */
  maxHeadAgeSeconds: number;
  intervalMs: number;
  /** The wall clock in milliseconds; injected by tests. */
  now?: () => number;
}

/** Whether this gateway may anchor, and if not why: shown in /readyz and the log. */
export type AnchoringStatus = { ok: true; anchorer: string } | { ok: false; reason: string };

interface AnchorStore {
  latestAnchor(): AnchorRecord | null;
  saveAnchor(anchor: AnchorRecord): void;
}

/**
 * Anchors the log's signed checkpoints on AuditAnchor with the anchoring key, which is not the
 * relaying key. It anchors only a log registered for this deployment's origin under this gateway's
 * note key, and schedules from the last anchor recorded rather than from boot, so a gateway restarted
 * more often than the interval still anchors.
 */
export class Anchoring {
  readonly logId: string;
  status: AnchoringStatus = { ok: false, reason: "the registered log has not been read yet" };
  private timer: NodeJS.Timeout | null = null;
  private scheduled: { at: number; done: Promise<AnchorRecord | null> } | null = null;
  private inFlight: Promise<AnchorRecord | null> | null = null;
  /** The anchoring key's latest size for this log on-chain: a fresh store must not re-anchor below it. */
  private chainLatest: { treeSize: number; anchoredAt: number } = { treeSize: 0, anchoredAt: 0 };
  private readonly now: () => number;

  constructor(
    private readonly store: AnchorStore,
    private readonly signer: Signer | null,
    private readonly reader: ContractRunner,
    private readonly options: AnchoringOptions,
    private readonly logger: Logger,
  ) {
    this.logId = logIdOf(options.origin);
    this.now = options.now ?? Date.now;
  }

  /**
   * Reads the registered log and the anchoring key's role. Throws ConfigError, at start only, when
   * MAX_HEAD_AGE_SECONDS is longer than the log's registered window: the auditor would fail releases
   * decided on heads that old. Anything else that stops anchoring refuses it, and releases go on.
   */
  async checkLog(atStart = false): Promise<AnchoringStatus> {
    const contract = AuditAnchor__factory.connect(this.options.anchorAddress, this.reader);
    const info = await contract.logInfo(this.logId);
    const registered = info.registeredBlock !== 0n;
    if (registered && this.options.maxHeadAgeSeconds > Number(info.maxHeadAgeSeconds)) {
      const why = `${this.options.maxHeadAgeSeconds}, longer than the ${info.maxHeadAgeSeconds} s registered for log ${this.options.origin} on AuditAnchor: the auditor would fail releases decided on heads that old`;
      if (atStart) throw new ConfigError(`invalid configuration:\n  MAX_HEAD_AGE_SECONDS: ${why}`);
      return this.refuse(`MAX_HEAD_AGE_SECONDS is ${why}`);
    }
    if (!registered) {
      return this.refuse(
        `log ${this.options.origin} is not registered on AuditAnchor ${this.options.anchorAddress}: the admin registers it with registerLog("${this.options.origin}", ${hexlify(this.options.noteKey)}, window)`,
      );
    }
    if (info.noteKey.toLowerCase() !== hexlify(this.options.noteKey)) {
      return this.refuse(`log ${this.options.origin} is registered with note key ${info.noteKey}, not this gateway's ${hexlify(this.options.noteKey)}`);
    }
    if (!this.signer) return this.refuse("no anchoring key: set ANCHOR_PRIVATE_KEY");
    const anchorer = await this.signer.getAddress();
    if (!(await contract.hasRole(await contract.ANCHORER_ROLE(), anchorer))) {
      return this.refuse(`the anchoring key ${anchorer} does not hold ANCHORER_ROLE on AuditAnchor ${this.options.anchorAddress}`);
    }
    const latest = await contract.latestCheckpoint(this.logId, anchorer);
    this.chainLatest = { treeSize: Number(latest.treeSize), anchoredAt: Number(latest.anchoredAt) };
    if (!this.status.ok) this.logger.info({ logId: this.logId, anchorer }, "anchoring enabled");
    this.status = { ok: true, anchorer };
    return this.status;
  }

  /** Anchors `checkpoint` if it is newer than the last anchor; concurrent callers share one anchoring. */
  anchor(checkpoint: () => Promise<SignedCheckpoint | null>): Promise<AnchorRecord | null> {
    this.inFlight ??= this.send(checkpoint).finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  /**
   * How long after `now` the first anchor is due: an interval after the last one recorded, here or
   * on-chain. Never anchored: at once if the log holds entries, else an interval from now.
   */
  firstDelayMs(logHasEntries: boolean): number {
    const lastAt = Math.max(this.store.latestAnchor()?.anchoredAt ?? 0, this.chainLatest.anchoredAt);
    if (lastAt === 0) return logHasEntries ? 0 : this.options.intervalMs;
    return Math.max(0, lastAt * 1000 + this.options.intervalMs - this.now());
  }

  /** When the next scheduled anchoring runs (by the injected clock), and its outcome once it has. */
  get next(): { at: number; done: Promise<AnchorRecord | null> } | null {
    return this.scheduled;
  }

  start(checkpoint: () => Promise<SignedCheckpoint | null>, logHasEntries: boolean): void {
    if (this.timer) return;
    const tick = (delayMs: number) => {
      let settle!: (record: AnchorRecord | null) => void;
      this.scheduled = { at: this.now() + delayMs, done: new Promise((resolve) => (settle = resolve)) };
      this.timer = setTimeout(() => {
        void this.anchor(checkpoint)
          .catch((err) => {
            this.logger.error({ err }, "anchor failed");
            return null;
          })
          .then((record) => {
            settle(record);
            if (this.timer) tick(this.options.intervalMs);
          });
      }, delayMs);
      this.timer.unref?.();
    };
    tick(this.firstDelayMs(logHasEntries));
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.scheduled = null;
    await Promise.allSettled([this.inFlight]);
  }

  private async send(checkpoint: () => Promise<SignedCheckpoint | null>): Promise<AnchorRecord | null> {
    // Refused until the log is registered for this key and the role granted: asked again each time.
    if (!this.status.ok) await this.checkLog();
    if (!this.status.ok || !this.signer) return null;
    const latest = await checkpoint();
    const anchored = Math.max(this.store.latestAnchor()?.treeSize ?? 0, this.chainLatest.treeSize);
    if (!latest || latest.treeSize <= anchored) return null;
    const contract = AuditAnchor__factory.connect(this.options.anchorAddress, this.signer);
    const tx = await contract.anchor(this.logId, latest.treeSize, latest.rootHash);
    const receipt = await tx.wait();
    if (!receipt || receipt.status !== 1) throw new Error(`anchor transaction ${tx.hash} failed`);
    const block = await receipt.getBlock();
    const record: AnchorRecord = { treeSize: latest.treeSize, rootHash: latest.rootHash, txHash: tx.hash, blockNumber: receipt.blockNumber, anchoredAt: block.timestamp };
    this.store.saveAnchor(record);
    this.chainLatest = { treeSize: record.treeSize, anchoredAt: record.anchoredAt };
    this.logger.info({ treeSize: record.treeSize, txHash: record.txHash }, "checkpoint anchored");
    return record;
  }

  private refuse(reason: string): AnchoringStatus {
    if (this.status.ok || this.status.reason !== reason) this.logger.error({ logId: this.logId, reason }, "anchoring refused");
    this.status = { ok: false, reason };
    return this.status;
  }
}
