import type { Logger } from "pino";
import { parseNote } from "../../core/signedNote";
import { formatAddCheckpoint } from "./witness";

/** A checkpoint to send: its size and its signed note (the log's signature only). */
export interface CheckpointToCosign {
  treeSize: number;
  signedNote: string;
}

export interface CosigningDeps {
  /** The RFC 6962 consistency proof from `from` to `to` leaves of the log. */
  consistencyProof(from: number, to: number): Uint8Array[];
  /** Stores a witness's cosignature lines for the checkpoint of `treeSize`. */
  save(treeSize: number, lines: string[]): void;
  logger: Logger;
  timeoutMs: number;
}

/** How often a 409 (the witness holds another size) is retried from the size it gives. */
const MAX_RETRIES = 2;

/**
 * One witness as the gateway sees it: the size it last cosigned (learnt from its answers, unknown
 * until the first), and at most one checkpoint waiting, the newest: a witness that is behind only
 * ever needs the latest checkpoint and one proof to it.
 */
class WitnessPeer {
  private knownSize = 0;
  private waiting: { checkpoint: CheckpointToCosign; done: Array<() => void> } | null = null;
  private running = false;

  constructor(
    readonly url: string,
    private readonly deps: CosigningDeps,
  ) {}

  /** Resolves once this checkpoint (or a newer one sent instead) was answered or given up. */
  submit(checkpoint: CheckpointToCosign): Promise<void> {
    return new Promise((resolve) => {
      if (this.waiting && this.waiting.checkpoint.treeSize >= checkpoint.treeSize) this.waiting.done.push(resolve);
      else this.waiting = { checkpoint, done: [...(this.waiting?.done ?? []), resolve] };
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.waiting) {
      const { checkpoint, done } = this.waiting;
      this.waiting = null;
      try {
        await this.send(checkpoint);
      } catch (error) {
        this.deps.logger.warn({ err: error, witness: this.url, treeSize: checkpoint.treeSize }, "witness did not cosign");
      }
      for (const resolve of done) resolve();
    }
    this.running = false;
  }

  private async send(checkpoint: CheckpointToCosign): Promise<void> {
    for (let attempt = 0; attempt <= MAX_RETRIES; attempt++) {
      const old = Math.min(this.knownSize, checkpoint.treeSize);
      const proof = old > 0 && old < checkpoint.treeSize ? this.deps.consistencyProof(old, checkpoint.treeSize) : [];
      const res = await fetch(`${this.url}/add-checkpoint`, {
        method: "POST",
        body: formatAddCheckpoint(old, proof, checkpoint.signedNote),
        signal: AbortSignal.timeout(this.deps.timeoutMs),
      });
      const body = await res.text();
      if (res.status === 200) {
        // Only well-formed signature lines are kept; which of them count is each verifier's choice.
        const lines = parseNote(`${parseNote(checkpoint.signedNote).text}\n${body}`).signatures.map((s) => s.line);
        this.deps.save(checkpoint.treeSize, lines);
        this.knownSize = checkpoint.treeSize;
        return;
      }
      if (res.status === 409 && /^(0|[1-9][0-9]{0,15})\n$/.test(body)) {
        const size = Number(body.trim());
        if (size > checkpoint.treeSize) throw new Error(`the witness holds size ${size}, beyond this checkpoint's ${checkpoint.treeSize}`);
        if (size === old) throw new Error(`the witness refused size ${checkpoint.treeSize} from its own size ${size}: a root it holds differs`);
        this.knownSize = size;
        continue;
      }
      throw new Error(`the witness answered ${res.status}: ${body.slice(0, 200).trim()}`);
    }
    throw new Error("the witness kept answering 409");
  }
}

/**
 * Sends each signed checkpoint to every witness (C2SP tlog-witness) and stores the cosignatures
 * that come back. Never blocks signing: a witness that is down or slow costs a log line, and the
 * next checkpoint is sent with a proof from the last size it cosigned.
 */
export class Cosigning {
  private readonly peers: WitnessPeer[];

  constructor(urls: readonly string[], deps: CosigningDeps) {
    this.peers = urls.map((url) => new WitnessPeer(url.replace(/\/$/, ""), deps));
  }

  get witnessCount(): number {
    return this.peers.length;
  }

  /** Resolves once every witness answered this checkpoint (or failed); never rejects. */
  submit(checkpoint: CheckpointToCosign): Promise<void> {
    return Promise.all(this.peers.map((peer) => peer.submit(checkpoint))).then(() => undefined);
  }
}
