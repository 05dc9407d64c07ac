import type { ChainEvent } from "../server/store/types";
import type { EndReason, GrantTimeline } from "./history";

/** One end of a stretch of validity of one grant issuance. */
export interface IssuanceEnd {
  subject: string;
  grantee: string;
  grantId: string;
  grantedAt: number;
  /** The first second at which the issuance was no longer valid. */
  endedAt: number;
  reason: EndReason;
}

/**
 * Every end of every issuance in a grant's timeline, up to `until` (chain seconds), replayed from
 * its events alone. An issuance is valid in [grantedAt, min(expiry, data expiry)) unless revoked or
 * cut off, as DataUseRegistry.check decides; a data expiry cleared or moved after it fell due
 * revives it, so one issuance may end more than once. An issuance that was never valid has no end.
 */
export function issuanceEnds(timeline: GrantTimeline, until: number): IssuanceEnd[] {
  const ends: IssuanceEnd[] = [];
  let grantedAt = 0;
  let expiresAt = 0;
  let issued = false;
  let revoked = false;
  let cutoff: number | null = null;
  let dataExpiresAt = 0;
  let valid = false;
  const end = (endedAt: number, reason: EndReason) => {
    ends.push({ subject: timeline.subject, grantee: timeline.grantee, grantId: timeline.grantId, grantedAt, endedAt, reason });
    valid = false;
  };
  const limit = (): [number, EndReason] => (dataExpiresAt !== 0 && dataExpiresAt < expiresAt ? [dataExpiresAt, "data-expired"] : [expiresAt, "expired"]);
  /** Time runs on to `t`: a valid issuance whose expiry (or data expiry) comes by then ends there. */
  const runTo = (t: number) => {
    const [at, reason] = limit();
    if (valid && at <= t) end(at, reason);
  };
  const apply = (e: ChainEvent) => {
    switch (e.kind) {
      case "issued":
        if (valid) end(e.blockTime, "expired");
        issued = true;
        grantedAt = e.blockTime;
        expiresAt = e.expiresAt!;
        revoked = false;
        break;
      case "changed":
        expiresAt = e.expiresAt!;
        break;
      case "revoked":
        if (valid) end(e.blockTime, "revoked");
        revoked = true;
        break;
      case "allRevoked":
        cutoff = e.blockTime;
        if (valid && grantedAt <= cutoff) end(e.blockTime, "revoked-all");
        break;
      case "dataExpiry":
        dataExpiresAt = e.expiresAt!;
        break;
    }
  };
  const events = timeline.events;
  for (const [i, e] of events.entries()) {
    runTo(e.blockTime);
    apply(e);
    // Valid from here on (an issuance, or a revival) if nothing ends it at this second already:
    // judged after the block's last event, as the registry answers between blocks. An issuance
    // revoked or cut off later in its own block was never valid, and has no end.
    if (events[i + 1]?.blockNumber === e.blockNumber) continue;
    if (issued && !valid && !revoked && !(cutoff !== null && grantedAt <= cutoff) && e.blockTime < limit()[0]) valid = true;
  }
  runTo(until);
  return ends.filter((e) => e.endedAt <= until);
}

/** One value a data expiry held that fell due while it was in force. */
export interface DataExpiryDue {
  subject: string;
  category: string;
  expiresAt: number;
}

/**
 * Every data expiry the chain ever set that fell due by `until`: a value counts once its time came
 * while it was in force, up to and including the second of the block that replaced it (the
 * registry had already refused access in that block).
 */
export function dataExpiriesDue(events: readonly ChainEvent[], until: number): DataExpiryDue[] {
  const current = new Map<string, DataExpiryDue>();
  const due: DataExpiryDue[] = [];
  for (const e of events) {
    if (e.kind !== "dataExpiry") continue;
    const key = `${e.subject}|${e.category}`;
    const before = current.get(key);
    if (before && before.expiresAt <= e.blockTime) due.push(before);
    current.set(key, { subject: e.subject, category: e.category!, expiresAt: e.expiresAt! });
  }
  for (const d of current.values()) if (d.expiresAt !== 0 && d.expiresAt <= until) due.push(d);
  return due.filter((d) => d.expiresAt !== 0 && d.expiresAt <= until);
}
