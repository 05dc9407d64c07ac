import type { ChainEvent } from "../store/types";

/** What mined transactions the index has not read yet say about one grant: only what ends it sooner. */
export interface PendingOnGrant {
  revoked: boolean;
  /** A revokeAll's block time: the grant ends if it was issued at or before it. */
  cutoffAt: number | null;
  expiresAt: number | null;
  dataExpiresAt: number | null;
}

/** One effect applied, as the caller that handed the transaction over is told. */
export type AppliedEffect =
  | { kind: "revoked"; subject: string; grantee: string; grantId: string }
  | { kind: "allRevoked"; subject: string; grantee: string }
  | { kind: "changed"; subject: string; grantee: string; grantId: string; expiresAt: number }
  | { kind: "dataExpiry"; subject: string; category: string; expiresAt: number };

interface Held {
  /** The newest block an effect on this key came from: held until the index has read it. */
  blockNumber: number;
  value: number;
}

const key = (subject: string, id: string) => `${subject}\n${id}`;

/**
 * The revocation-direction effects of registry transactions that were handed to the gateway (or
 * relayed by it) and that its index has not read yet: revocations, revokeAlls, shortened expiries
 * and data expiries. The decision applies them at once; each is dropped once the index has read its
 * block, from which on the index's own state (which also knows of any reorganisation) stands.
 * Nothing here can allow what the index denies.
 */
export class PendingEffects {
  /** Per grant: its earliest pending expiry (0 when revoked). */
  private readonly grants = new Map<string, Held>();
  /** Per (subject, grantee): the latest pending revokeAll's block time. */
  private readonly cutoffs = new Map<string, Held>();
  /** Per (subject, category): the earliest pending data expiry. */
  private readonly dataExpiries = new Map<string, Held>();

  get size(): number {
    return this.grants.size + this.cutoffs.size + this.dataExpiries.size;
  }

  /** Holds each event's effect when it ends access sooner; returns those it held. */
  apply(events: readonly ChainEvent[]): AppliedEffect[] {
    const applied: AppliedEffect[] = [];
    for (const e of events) {
      switch (e.kind) {
        case "revoked":
          hold(this.grants, key(e.subject, e.grantId!), e.blockNumber, 0, Math.min);
          applied.push({ kind: "revoked", subject: e.subject, grantee: e.grantee!, grantId: e.grantId! });
          break;
        case "allRevoked":
          hold(this.cutoffs, key(e.subject, e.grantee!), e.blockNumber, e.blockTime, Math.max);
          applied.push({ kind: "allRevoked", subject: e.subject, grantee: e.grantee! });
          break;
        case "changed":
          // An extension waits for the index (and its confirmations).
          if (e.expiresAt! >= e.previousExpiresAt!) break;
          hold(this.grants, key(e.subject, e.grantId!), e.blockNumber, e.expiresAt!, Math.min);
          applied.push({ kind: "changed", subject: e.subject, grantee: e.grantee!, grantId: e.grantId!, expiresAt: e.expiresAt! });
          break;
        case "dataExpiry":
          // Clearing (0) or moving it later waits for the index.
          if (e.expiresAt === 0 || (e.previousExpiresAt !== 0 && e.expiresAt! >= e.previousExpiresAt!)) break;
          hold(this.dataExpiries, key(e.subject, e.category!), e.blockNumber, e.expiresAt!, Math.min);
          applied.push({ kind: "dataExpiry", subject: e.subject, category: e.category!, expiresAt: e.expiresAt! });
          break;
        case "issued":
          break;
      }
    }
    return applied;
  }

  /** What is pending on one grant beyond `indexedBlock`, or null when nothing is (the usual case, and cheap). */
  on(query: { subject: string; grantee: string; grantId: string; category: string }, indexedBlock: number): PendingOnGrant | null {
    if (this.size === 0) return null;
    const grant = live(this.grants, key(query.subject, query.grantId), indexedBlock);
    const cutoff = live(this.cutoffs, key(query.subject, query.grantee), indexedBlock);
    const data = live(this.dataExpiries, key(query.subject, query.category), indexedBlock);
    if (grant === null && cutoff === null && data === null) return null;
    return { revoked: grant === 0, cutoffAt: cutoff, expiresAt: grant, dataExpiresAt: data };
  }

  /** Forgets every effect whose block the index has read. */
  prune(indexedBlock: number): void {
    for (const map of [this.grants, this.cutoffs, this.dataExpiries]) {
      for (const [k, held] of map) if (held.blockNumber <= indexedBlock) map.delete(k);
    }
  }
}

function hold(map: Map<string, Held>, k: string, blockNumber: number, value: number, merge: (a: number, b: number) => number): void {
  const held = map.get(k);
  map.set(k, held ? { blockNumber: Math.max(held.blockNumber, blockNumber), value: merge(held.value, value) } : { blockNumber, value });
}

function live(map: Map<string, Held>, k: string, indexedBlock: number): number | null {
  const held = map.get(k);
  if (!held) return null;
  if (held.blockNumber <= indexedBlock) {
    map.delete(k);
    return null;
  }
  return held.value;
}
