import { idOf } from "../../core/labels";
import type { AuditEntry, GrantRow, OrderRow } from "./gateway";

/** A grant as a person sees it now, by the chain's clock and the category's data expiry. */
export type LiveStatus = "active" | "expiring" | "pending" | "expired" | "revoked" | "data-expired";

const DAY = 86_400;

/** The moment a grant stops being valid: its own expiry, or its category's data expiry if earlier. */
export function endsAt(grant: GrantRow, dataExpiry: number | undefined): number {
  return dataExpiry && dataExpiry < grant.expiresAt ? dataExpiry : grant.expiresAt;
}

export function liveStatus(grant: GrantRow, dataExpiry: number | undefined, now: number): LiveStatus {
  if (grant.status === "revoked") return "revoked";
  if (grant.status === "data-expired" || (dataExpiry && dataExpiry <= now)) return "data-expired";
  if (grant.status === "expired" || grant.expiresAt <= now) return "expired";
  if (grant.status === "pending") return "pending";
  return endsAt(grant, dataExpiry) - now <= DAY ? "expiring" : "active";
}

export const isLive = (s: LiveStatus) => s === "active" || s === "expiring";

/** Colour classes of the flow picture, in the order the legend lists them. */
export type FlowStatus = "active" | "expiring" | "ended" | "ordered" | "acknowledged";
export const FLOW_STATUSES: readonly FlowStatus[] = ["active", "expiring", "ended", "ordered", "acknowledged"];

export interface FlowEdge {
  /** Category id (lower-case hex). */
  category: string;
  /** Service address (lower-case). */
  service: string;
  status: FlowStatus;
  releases: number;
  grants: number;
}

/**
 * One edge per (category, service) that ever had a grant: its colour is the most alive of its grants
 * (a live grant wins; else a deletion order, acknowledged only when every order is), its weight the
 * number of releases the access log shows on that pair.
 */
export function flowEdges(grants: GrantRow[], orders: OrderRow[], entries: AuditEntry[], dataExpiry: (categoryId: string) => number | undefined, now: number): FlowEdge[] {
  const edges = new Map<string, { category: string; service: string; grants: GrantRow[] }>();
  for (const g of grants) {
    const key = `${g.category}|${g.grantee}`;
    const edge = edges.get(key) ?? { category: g.category, service: g.grantee, grants: [] };
    edge.grants.push(g);
    edges.set(key, edge);
  }
  const releases = new Map<string, number>();
  for (const e of entries) {
    if (e.kind !== "release" || !e.category || !e.grantee) continue;
    const key = `${idOf(e.category)}|${e.grantee}`;
    releases.set(key, (releases.get(key) ?? 0) + 1);
  }
  return [...edges.entries()].map(([key, edge]) => {
    const statuses = edge.grants.map((g) => liveStatus(g, dataExpiry(g.category), now));
    const grantIds = new Set(edge.grants.map((g) => g.grantId));
    const edgeOrders = orders.filter((o) => grantIds.has(o.grantId));
    let status: FlowStatus;
    if (statuses.includes("active")) status = "active";
    else if (statuses.includes("expiring")) status = "expiring";
    else if (edgeOrders.length === 0) status = "ended";
    else status = edgeOrders.every((o) => o.status === "acknowledged") ? "acknowledged" : "ordered";
    return { category: edge.category, service: edge.service, status, releases: releases.get(key) ?? 0, grants: edge.grants.length };
  });
}
