/**
 * The registry decides by the chain head's timestamp, which a local chain may have moved ahead of
 * the wall clock. The page counts down by that clock: the wall clock plus the head's lead over it.
 */
export class ChainClock {
  private lead = 0;

  /**
   * The lead only grows: a head that is merely old (no block for a while, as on an idle local chain)
   * says nothing about the clock, and a lagging one never sets it back behind the wall clock.
   */
  observe(headTimestamp: number): void {
    this.lead = Math.max(this.lead, headTimestamp - Math.floor(Date.now() / 1000));
  }

  now(): number {
    return Math.floor(Date.now() / 1000) + this.lead;
  }
}

const local = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const localDate = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const localClock = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });

/** In the person's locale and time zone. */
export const localTime = (seconds: number): string => local.format(new Date(seconds * 1000));

/** The same, as date and time of day apart, for layouts that break between the two. */
export const localParts = (seconds: number): [string, string] => [localDate.format(new Date(seconds * 1000)), localClock.format(new Date(seconds * 1000))];

/** The absolute time, for a hover title: `2025-01-31 14:05:09 UTC`. */
export const utcTime = (seconds: number): string => new Date(seconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");

/** `in 2 d 4 h`, `in 59 min 3 s`, `3 h ago`: two units, the larger first. */
export function relative(seconds: number, now: number): string {
  const delta = seconds - now;
  const span = Math.abs(delta);
  const units: [string, number][] = [
    ["d", 86_400],
    ["h", 3600],
    ["min", 60],
    ["s", 1],
  ];
  const parts: string[] = [];
  let rest = span;
  for (const [name, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0 || (parts.length > 0 && parts.length < 2)) parts.push(`${n} ${name}`);
    rest -= n * size;
    if (parts.length === 2) break;
  }
  const text = parts.length ? parts.join(" ") : "0 s";
  return delta >= 0 ? `in ${text}` : `${text} ago`;
}

/** A `datetime-local` input's value for `seconds`, in local time. */
export function toDateInput(seconds: number): string {
  const d = new Date(seconds * 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Seconds of a `datetime-local` value (local time), or null when empty or invalid. */
export function fromDateInput(value: string): number | null {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}
