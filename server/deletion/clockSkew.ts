import type { Logger } from "pino";
import { Gauge, type Registry } from "prom-client";

/**
 * Watches the wall clock against the chain head's time. Releases end on whichever reaches an
 * expiry first and deletions wait for the chain, so a skew shows as access denied long before (or
 * after) the data goes: operators see it in /metrics, and once per episode in the log.
 */
export class ClockSkewMonitor {
  /** Wall clock minus head time, in seconds, as last observed. */
  private skewSeconds: number | null = null;
  private skewed = false;

  constructor(
    private readonly maxSkewSeconds: number,
    private readonly logger: Logger,
  ) {}

  observe(wallClockMs: number, headTime: number): void {
    const skew = Math.floor(wallClockMs / 1000) - headTime;
    this.skewSeconds = skew;
    const beyond = Math.abs(skew) > this.maxSkewSeconds;
    if (beyond && !this.skewed) {
      this.logger.warn({ skewSeconds: skew, maxClockSkewSeconds: this.maxSkewSeconds }, "clock skew: the wall clock and the chain head's time disagree beyond the bound");
    } else if (!beyond && this.skewed) {
      this.logger.info({ skewSeconds: skew }, "clock skew back within the bound");
    }
    this.skewed = beyond;
  }

  register(registry: Registry): void {
    const monitor = this;
    new Gauge({
      name: "dul_clock_skew_seconds",
      help: "Wall clock minus the chain head's time, in seconds, as the expiry scheduler last saw them",
      registers: [registry],
      collect() {
        if (monitor.skewSeconds !== null) this.set(monitor.skewSeconds);
      },
    });
  }
}
