import type { Deployment } from "../core/deployment";
import type { ChainEvent } from "../server/store/types";
import { grantStateAt, grantTimelines, type ChainHistory } from "./history";

/** One row per registry event, for `audit history`. */
export function historyRows(events: readonly ChainEvent[], filter: { subject?: string; grantee?: string }): Record<string, string | number | null>[] {
  return events
    .filter((e) => (!filter.subject || e.subject === filter.subject) && (!filter.grantee || e.grantee === filter.grantee || (e.grantee === null && e.kind === "dataExpiry" && !filter.subject)))
    .map((e) => ({
      time: new Date(e.blockTime * 1000).toISOString(),
      block: e.blockNumber,
      tx: e.txHash,
      event: e.kind,
      subject: e.subject,
      grantee: e.grantee,
      grantId: e.grantId,
      category: e.category,
      purpose: e.purpose,
      expiresAt: e.expiresAt,
      previousExpiresAt: e.previousExpiresAt,
    }));
}

/**
 * A consent receipt per grant of a subject, in the shape of the Kantara Consent Receipt v1.1 and
 * ISO/IEC TS 27560 records: who consented to whom, for which purpose and data category, when, until
 * when, and the on-chain evidence (contract, block, transaction) that proves each step.
 */
export function consentReceipts(history: ChainHistory, deployment: Deployment, subject: string): Record<string, unknown>[] {
  return grantTimelines(history.events)
    .filter((t) => t.subject === subject)
    .map((t) => {
      const issued = [...t.events].reverse().find((e) => e.kind === "issued" && e.grantId === t.grantId)!;
      const state = grantStateAt(t, history.headTime, () => true);
      return {
        version: "KI-CR-v1.1.0",
        schema: "ISO/IEC TS 27560 consent record (subset)",
        consentReceiptID: `${deployment.chainId}:${deployment.contracts.DataUseRegistry.address.toLowerCase()}:${t.grantId}:${state.grantedAt}`,
        jurisdiction: null,
        consentTimestamp: state.grantedAt,
        collectionMethod: "EIP-712 or transaction signed by the subject's wallet, recorded on-chain",
        language: "en",
        piiPrincipalId: t.subject,
        piiControllers: [{ piiController: t.grantee, onBehalf: false }],
        services: [
          {
            service: t.grantee,
            purposes: [
              {
                purpose: t.purpose,
                purposeCategory: ["dpv purpose id (keccak256 of its label)"],
                consentType: "EXPLICIT",
                piiCategory: [t.category],
                primaryPurpose: true,
                termination: state.endsAt === null ? null : new Date(state.endsAt * 1000).toISOString(),
                thirdPartyDisclosure: false,
              },
            ],
          },
        ],
        status: state.valid ? "active" : state.reason,
        evidence: {
          chainId: deployment.chainId,
          contract: deployment.contracts.DataUseRegistry.address,
          events: t.events.map((e) => ({ event: e.kind, block: e.blockNumber, tx: e.txHash, time: e.blockTime })),
          issuedIn: { block: issued.blockNumber, tx: issued.txHash },
        },
      };
    });
}

/** Renders rows as an aligned text table, CSV (RFC 4180 quoting) or JSON. */
export function render(rows: readonly Record<string, unknown>[], format: "table" | "json" | "csv"): string {
  if (format === "json") return JSON.stringify(rows, null, 2);
  if (rows.length === 0) return format === "csv" ? "" : "(nothing)";
  const columns = Object.keys(rows[0]);
  const cell = (v: unknown) => (v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));
  if (format === "csv") {
    const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    return [columns.join(","), ...rows.map((r) => columns.map((c) => quote(cell(r[c]))).join(","))].join("\n");
  }
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i])).join("  ").trimEnd();
  return [line(columns), line(widths.map((w) => "-".repeat(w))), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join("\n");
}
