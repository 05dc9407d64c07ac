import type { Logger } from "pino";
import { getBlockHeader, type RpcProvider } from "./logs";

/** A further endpoint of the same chain, whose head is a second opinion on the primary's. */
export interface PeerEndpoint {
  /** Where it is, for /readyz and the log (credentials stripped). */
  url: string;
  provider: RpcProvider;
}

/** What one endpoint said its head was at the last poll. */
export interface EndpointHead {
  url: string;
  head: number | null;
  error?: string;
}

/** A URL as it may be shown: without user name or password. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    return parsed.toString();
  } catch {
    return "(invalid URL)";
  }
}

/**
 * Compares the primary endpoint's head with each peer's: a node that lies about, or lags behind,
 * the chain shows as one whose head differs from the others' by more than `maxSpread` blocks, and a
 * node that shows a chain of its own (logs and headers that agree with each other, not with the
 * chain) as one whose block at the lower of the two heads has another hash. An endpoint that does
 * not answer cannot vouch either. Returns the heads read and, when they do not agree, why (naming
 * the endpoint behind), else null.
 */
export async function compareHeads(
  primary: { url: string; head: number; hash: string; provider: RpcProvider },
  peers: readonly PeerEndpoint[],
  maxSpread: number,
): Promise<{ heads: EndpointHead[]; fault: string | null }> {
  let forked: string | null = null;
  const read = await Promise.all(
    peers.map(async (peer): Promise<EndpointHead> => {
      try {
        const latest = await getBlockHeader(peer.provider, "latest");
        // The same block number on both, read from the one further ahead: at most one more read.
        const at = Math.min(latest.number, primary.head);
        const [ours, theirs] = await Promise.all([
          at === primary.head ? primary.hash : getBlockHeader(primary.provider, at).then((b) => b.hash),
          at === latest.number ? latest.hash : getBlockHeader(peer.provider, at).then((b) => b.hash),
        ]);
        if (ours.toLowerCase() !== theirs.toLowerCase()) forked ??= `endpoint ${peer.url} holds block ${at} as ${theirs}, ${primary.url} as ${ours}: they show different chains`;
        return { url: peer.url, head: latest.number };
      } catch (error) {
        return { url: peer.url, head: null, error: (error as Error).message };
      }
    }),
  );
  const heads: EndpointHead[] = [{ url: primary.url, head: primary.head }, ...read];
  const silent = heads.find((h) => h.head === null);
  if (silent) return { heads, fault: `endpoint ${silent.url} did not answer its head (${silent.error}): the endpoints cannot vouch for each other` };
  if (forked !== null) return { heads, fault: forked };
  const answered = heads as { url: string; head: number }[];
  const highest = answered.reduce((a, b) => (b.head > a.head ? b : a));
  const lowest = answered.reduce((a, b) => (b.head < a.head ? b : a));
  if (highest.head - lowest.head > maxSpread) {
    return { heads, fault: `endpoint ${lowest.url} is at block ${lowest.head}, ${highest.head - lowest.head} blocks behind ${highest.url} (at most ${maxSpread} allowed)` };
  }
  return { heads, fault: null };
}

/** Logs a change of the endpoints' agreement once, not at every poll. */
export function logAgreement(log: Logger, previous: string | null, fault: string | null, heads: EndpointHead[]): void {
  if (fault !== null && fault !== previous) log.warn({ endpoints: heads, reason: fault }, "RPC endpoints disagree: failing closed");
  else if (fault === null && previous !== null) log.info({ endpoints: heads }, "RPC endpoints agree again");
}
