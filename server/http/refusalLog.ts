import type { Logger } from "pino";

interface Episode {
  since: number;
  refusals: number;
}

/**
 * The gateway failing closed (503: the index is stale, the chain unreachable) is expected, and comes
 * once per request while it lasts: it is logged as one warning when an episode begins and one line
 * with its count when service returns, never a line with a stack per request.
 */
export class RefusalEpisodes {
  private readonly open = new Map<string, Episode>();

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  refused(code: string, reason: string): void {
    const episode = this.open.get(code);
    if (episode) {
      episode.refusals += 1;
      return;
    }
    this.open.set(code, { since: this.now(), refusals: 1 });
    this.logger.warn({ code, reason }, "failing closed: refusing until this clears");
  }

  /** A request was served: every open episode ends, each with its count. */
  served(): void {
    if (this.open.size === 0) return;
    for (const [code, { since, refusals }] of this.open) {
      this.logger.info({ code, refusals, durationMs: this.now() - since }, "serving again after refusals");
    }
    this.open.clear();
  }

  get active(): boolean {
    return this.open.size > 0;
  }
}
