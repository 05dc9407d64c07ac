/**
 * One table of grant-validity cases, run against every implementation of the rule (the contract's
 * `check`, the gateway's `decide()`, the SQL of the index and the deletion scheduler, the auditor's
 * `grantStateAt`): see validity.test.ts.
 *
 * Times are seconds after the case's start. Every second is one block with that timestamp, so a
 * block's confirmations are the seconds since it; actions of one second are mined in its block in
 * the order listed. A query at a second sees every block up to and including that second's.
 */

export type Subject = "alice" | "bob";
export type Grantee = "svc" | "other";
export type Category = "email" | "phone";
export type Purpose = "ads" | "service";

/** Which grant: by default alice's to svc for email and ads. */
export interface GrantKey {
  subject: Subject;
  grantee: Grantee;
  category: Category;
  purpose: Purpose;
}

export const DEFAULT_KEY: GrantKey = { subject: "alice", grantee: "svc", category: "email", purpose: "ads" };

type Keyed = Partial<GrantKey>;

export type Action = { at: number; reverts?: true } & (
  | ({ do: "grant"; expiresAt: number } & Keyed)
  | ({ do: "changeExpiry"; expiresAt: number } & Keyed)
  | ({ do: "revoke" } & Keyed)
  | { do: "revokeAll"; subject?: Subject; grantee?: Grantee }
  /** `expiresAt` 0 clears the data expiry. */
  | { do: "setDataExpiry"; subject?: Subject; category?: Category; expiresAt: number }
);

/** What a query answers: valid, or why not (the auditor's reasons; the contract says `Revoked` for both revocations). */
export type Outcome = "valid" | "no-grant" | "revoked" | "revoked-all" | "expired" | "data-expired";

export interface Query extends Keyed {
  at: number;
  /**
   * Asks the gateway's decide() with this many confirmations, and only it: the other three have no
   * such notion. Without it, every implementation is asked with none.
   */
  confirmations?: number;
  expect: Outcome;
}

export interface ValidityCase {
  name: string;
  actions: Action[];
  queries: Query[];
  /**
   * The default grant's ends of validity up to the last query, as [issued at, ended at]: each the
   * first second an issuance valid the second before was no longer valid. The contract shows these,
   * the auditor requires a deletion order for each, and the gateway's scheduler orders each.
   */
  ends?: [number, number][];
  /** Generated cases do not say which actions revert (an expiry not in the future, a grant not live): the chain decides. */
  actionsMayRevert?: true;
}

const q = (at: number, expect: Outcome, more: Omit<Query, "at" | "expect"> = {}): Query => ({ at, expect, ...more });

export const VALIDITY_CASES: ValidityCase[] = [
  // ------------------------------------------------------------------ the window's boundaries
  {
    name: "no grant before it is issued, valid from the second of its block",
    actions: [{ at: 5, do: "grant", expiresAt: 10 }],
    queries: [q(4, "no-grant"), q(5, "valid")],
  },
  {
    name: "valid at expiresAt - 1 and expired at expiresAt (half-open window)",
    actions: [{ at: 0, do: "grant", expiresAt: 10 }],
    queries: [q(9, "valid"), q(10, "expired"), q(11, "expired")],
    ends: [[0, 10]],
  },
  {
    name: "a grant issued for one second is valid for that second only",
    actions: [{ at: 0, do: "grant", expiresAt: 1 }],
    queries: [q(0, "valid"), q(1, "expired")],
  },
  {
    name: "a grant of another purpose, category, grantee or subject is no grant",
    actions: [{ at: 0, do: "grant", expiresAt: 10 }],
    queries: [
      q(1, "no-grant", { purpose: "service" }),
      q(1, "no-grant", { category: "phone" }),
      q(1, "no-grant", { grantee: "other" }),
      q(1, "no-grant", { subject: "bob" }),
      q(1, "valid"),
    ],
  },
  {
    name: "an expiry in the past is refused: nothing is issued",
    actions: [{ at: 5, do: "grant", expiresAt: 5, reverts: true }],
    queries: [q(5, "no-grant")],
  },
  // ------------------------------------------------------------------ revocation
  {
    name: "a revocation ends the grant in the second of its block, for good",
    actions: [
      { at: 0, do: "grant", expiresAt: 10 },
      { at: 5, do: "revoke" },
    ],
    queries: [q(4, "valid"), q(5, "revoked"), q(10, "revoked"), q(20, "revoked")],
    ends: [[0, 5]],
  },
  {
    name: "a grant revoked in its own second is never valid",
    actions: [
      { at: 3, do: "grant", expiresAt: 10 },
      { at: 3, do: "revoke" },
    ],
    queries: [q(3, "revoked"), q(4, "revoked")],
    ends: [],
  },
  {
    name: "revoking an expired grant changes nothing: it stays expired",
    actions: [
      { at: 0, do: "grant", expiresAt: 5 },
      { at: 6, do: "revoke" },
    ],
    queries: [q(6, "expired")],
  },
  {
    name: "a grant issued again after a revocation is valid",
    actions: [
      { at: 0, do: "grant", expiresAt: 50 },
      { at: 3, do: "revoke" },
      { at: 4, do: "grant", expiresAt: 20 },
    ],
    queries: [q(3, "revoked"), q(4, "valid"), q(19, "valid"), q(20, "expired")],
  },
  {
    name: "a grant revoked and issued again in one second is valid",
    actions: [
      { at: 0, do: "grant", expiresAt: 50 },
      { at: 3, do: "revoke" },
      { at: 3, do: "grant", expiresAt: 20 },
    ],
    queries: [q(3, "valid")],
    ends: [[0, 3]],
  },
  // ------------------------------------------------------------------ revokeAll
  {
    name: "revokeAll ends a grant issued in an earlier second, from its own second",
    actions: [
      { at: 0, do: "grant", expiresAt: 100 },
      { at: 5, do: "revokeAll" },
    ],
    queries: [q(4, "valid"), q(5, "revoked-all"), q(100, "revoked-all")],
  },
  {
    name: "revokeAll ends a grant issued earlier in its own block",
    actions: [
      { at: 5, do: "grant", expiresAt: 100 },
      { at: 5, do: "revokeAll" },
    ],
    queries: [q(5, "revoked-all"), q(6, "revoked-all")],
  },
  {
    name: "revokeAll ends a grant issued later in its own second: the registry fails closed",
    actions: [
      { at: 5, do: "revokeAll" },
      { at: 5, do: "grant", expiresAt: 100 },
    ],
    queries: [q(5, "revoked-all"), q(6, "revoked-all")],
    ends: [],
  },
  {
    name: "a grant issued again in the second of a revokeAll stays cut off; issued a second later it is valid",
    actions: [
      { at: 0, do: "grant", expiresAt: 100 },
      { at: 5, do: "revokeAll" },
      { at: 5, do: "grant", expiresAt: 100 },
      { at: 6, do: "grant", expiresAt: 50 },
    ],
    queries: [q(5, "revoked-all"), q(6, "valid"), q(49, "valid"), q(50, "expired")],
    ends: [[0, 5], [6, 50]],
  },
  {
    name: "a grant issued again after a revokeAll is valid; a second revokeAll ends it",
    actions: [
      { at: 0, do: "grant", expiresAt: 100 },
      { at: 5, do: "revokeAll" },
      { at: 8, do: "grant", expiresAt: 100 },
      { at: 12, do: "revokeAll" },
    ],
    queries: [q(7, "revoked-all"), q(8, "valid"), q(11, "valid"), q(12, "revoked-all")],
  },
  {
    name: "revokeAll ends every grant of the subject to that grantee, and no other",
    actions: [
      { at: 0, do: "grant", expiresAt: 100 },
      { at: 0, do: "grant", expiresAt: 100, purpose: "service" },
      { at: 0, do: "grant", expiresAt: 100, grantee: "other" },
      { at: 1, do: "grant", expiresAt: 100, subject: "bob" },
      { at: 5, do: "revokeAll" },
      { at: 6, do: "revokeAll", subject: "bob", grantee: "other" },
    ],
    queries: [
      q(5, "revoked-all"),
      q(5, "revoked-all", { purpose: "service" }),
      q(6, "valid", { grantee: "other" }),
      q(6, "valid", { subject: "bob" }),
    ],
  },
  {
    name: "an expiry changed after a revokeAll does not revive the grant",
    actions: [
      { at: 0, do: "grant", expiresAt: 50 },
      { at: 5, do: "revokeAll" },
      { at: 6, do: "changeExpiry", expiresAt: 80 },
    ],
    queries: [q(6, "revoked-all"), q(60, "revoked-all")],
  },
  {
    name: "a revokeAll after a grant expired reports the grant revoked, as the contract does",
    actions: [
      { at: 0, do: "grant", expiresAt: 10 },
      { at: 12, do: "revokeAll" },
    ],
    queries: [q(11, "expired"), q(12, "revoked-all")],
  },
  // ------------------------------------------------------------------ expiry changes
  {
    name: "an extension is valid up to its new expiry",
    actions: [
      { at: 0, do: "grant", expiresAt: 10 },
      { at: 5, do: "changeExpiry", expiresAt: 20 },
    ],
    queries: [q(10, "valid"), q(19, "valid"), q(20, "expired")],
  },
  {
    name: "a shortening ends the grant at its new expiry",
    actions: [
      { at: 0, do: "grant", expiresAt: 20 },
      { at: 5, do: "changeExpiry", expiresAt: 8 },
    ],
    queries: [q(7, "valid"), q(8, "expired"), q(19, "expired")],
  },
  {
    name: "granting a grant still valid moves its expiry, in either direction",
    actions: [
      { at: 0, do: "grant", expiresAt: 10 },
      { at: 5, do: "grant", expiresAt: 30 },
      { at: 25, do: "grant", expiresAt: 27 },
    ],
    queries: [q(10, "valid"), q(26, "valid"), q(27, "expired")],
  },
  {
    name: "an expired grant cannot be extended, only issued again",
    actions: [
      { at: 0, do: "grant", expiresAt: 5 },
      { at: 5, do: "changeExpiry", expiresAt: 20, reverts: true },
      { at: 7, do: "grant", expiresAt: 12 },
    ],
    queries: [q(5, "expired"), q(6, "expired"), q(7, "valid"), q(12, "expired")],
  },
  {
    name: "an expiry changed into the past is refused",
    actions: [
      { at: 0, do: "grant", expiresAt: 10 },
      { at: 5, do: "changeExpiry", expiresAt: 5, reverts: true },
    ],
    queries: [q(5, "valid"), q(10, "expired")],
  },
  // ------------------------------------------------------------------ data expiry
  {
    name: "a data expiry before the grant's expiry caps it",
    actions: [
      { at: 0, do: "grant", expiresAt: 100 },
      { at: 2, do: "setDataExpiry", expiresAt: 10 },
    ],
    queries: [q(9, "valid"), q(10, "data-expired"), q(100, "data-expired")],
  },
  {
    name: "a data expiry after the grant's expiry does not extend it",
    actions: [
      { at: 0, do: "setDataExpiry", expiresAt: 50 },
      { at: 1, do: "grant", expiresAt: 20 },
    ],
    queries: [q(19, "valid"), q(20, "expired"), q(50, "expired")],
  },
  {
    name: "a data expiry equal to the grant's expiry: the grant expired",
    actions: [
      { at: 0, do: "grant", expiresAt: 20 },
      { at: 1, do: "setDataExpiry", expiresAt: 20 },
    ],
    queries: [q(19, "valid"), q(20, "expired")],
  },
  {
    name: "a cleared data expiry revives a grant it had capped",
    actions: [
      { at: 0, do: "grant", expiresAt: 100 },
      { at: 1, do: "setDataExpiry", expiresAt: 10 },
      { at: 15, do: "setDataExpiry", expiresAt: 0 },
    ],
    queries: [q(10, "data-expired"), q(14, "data-expired"), q(15, "valid"), q(99, "valid"), q(100, "expired")],
    ends: [[0, 10], [0, 100]],
  },
  {
    name: "a data expiry moved later revives the grant until then",
    actions: [
      { at: 0, do: "grant", expiresAt: 100 },
      { at: 1, do: "setDataExpiry", expiresAt: 10 },
      { at: 12, do: "setDataExpiry", expiresAt: 30 },
    ],
    queries: [q(11, "data-expired"), q(12, "valid"), q(29, "valid"), q(30, "data-expired")],
    ends: [[0, 10], [0, 30]],
  },
  {
    name: "a data expiry passed before a grant is issued caps the new grant at once",
    actions: [
      { at: 0, do: "setDataExpiry", expiresAt: 10 },
      { at: 12, do: "grant", expiresAt: 50 },
    ],
    queries: [q(12, "data-expired"), q(13, "data-expired")],
    ends: [],
  },
  {
    name: "a data expiry in the past is refused; clearing one is not",
    actions: [
      { at: 0, do: "grant", expiresAt: 100 },
      { at: 5, do: "setDataExpiry", expiresAt: 5, reverts: true },
      { at: 6, do: "setDataExpiry", expiresAt: 0 },
    ],
    queries: [q(5, "valid"), q(6, "valid")],
  },
  {
    name: "a data expiry of another category or subject does not touch the grant",
    actions: [
      { at: 0, do: "grant", expiresAt: 100 },
      { at: 1, do: "setDataExpiry", category: "phone", expiresAt: 5 },
      { at: 1, do: "setDataExpiry", subject: "bob", expiresAt: 5 },
    ],
    queries: [q(5, "valid"), q(5, "no-grant", { category: "phone" })],
  },
  {
    name: "a revocation is reported before a data expiry, and a revokeAll before both",
    actions: [
      { at: 0, do: "grant", expiresAt: 100 },
      { at: 0, do: "grant", expiresAt: 100, purpose: "service" },
      { at: 1, do: "setDataExpiry", expiresAt: 10 },
      { at: 5, do: "revoke" },
      { at: 6, do: "revokeAll" },
    ],
    queries: [q(10, "revoked"), q(10, "revoked-all", { purpose: "service" })],
  },
  // ------------------------------------------------------------------ confirmations (decide() alone)
  {
    name: "an issuance counts once its block has CONFIRMATIONS blocks on top",
    actions: [{ at: 0, do: "grant", expiresAt: 100 }],
    queries: [
      q(0, "no-grant", { confirmations: 1 }),
      q(1, "valid", { confirmations: 1 }),
      q(1, "no-grant", { confirmations: 2 }),
      q(2, "valid", { confirmations: 2 }),
    ],
  },
  {
    name: "an unconfirmed extension does not count; confirmed, it does",
    actions: [
      { at: 0, do: "grant", expiresAt: 10 },
      { at: 9, do: "changeExpiry", expiresAt: 20 },
    ],
    queries: [q(9, "valid", { confirmations: 2 }), q(10, "expired", { confirmations: 2 }), q(11, "valid", { confirmations: 2 }), q(11, "valid")],
  },
  {
    name: "an unconfirmed shortening counts at once",
    actions: [
      { at: 0, do: "grant", expiresAt: 20 },
      { at: 9, do: "changeExpiry", expiresAt: 10 },
    ],
    queries: [q(10, "expired", { confirmations: 2 })],
  },
  {
    name: "an unconfirmed revocation and revokeAll count at once",
    actions: [
      { at: 0, do: "grant", expiresAt: 50 },
      { at: 0, do: "grant", expiresAt: 50, grantee: "other" },
      { at: 9, do: "revoke" },
      { at: 9, do: "revokeAll", grantee: "other" },
    ],
    queries: [q(9, "revoked", { confirmations: 2 }), q(9, "revoked-all", { confirmations: 2, grantee: "other" })],
  },
  {
    name: "two unconfirmed extensions in a row: the confirmed expiry holds",
    actions: [
      { at: 0, do: "grant", expiresAt: 10 },
      { at: 8, do: "changeExpiry", expiresAt: 20 },
      { at: 9, do: "changeExpiry", expiresAt: 30 },
    ],
    queries: [q(10, "expired", { confirmations: 3 }), q(10, "valid", { confirmations: 2 }), q(10, "valid")],
  },
  {
    name: "an unconfirmed extension then an unconfirmed shortening below the confirmed expiry: the shortening counts",
    actions: [
      { at: 0, do: "grant", expiresAt: 20 },
      { at: 8, do: "changeExpiry", expiresAt: 30 },
      { at: 9, do: "changeExpiry", expiresAt: 10 },
    ],
    queries: [q(9, "valid", { confirmations: 3 }), q(10, "expired", { confirmations: 3 })],
  },
  {
    name: "an expiry shortened and moved back within one unconfirmed block: the confirmed expiry holds",
    actions: [
      { at: 0, do: "grant", expiresAt: 10 },
      { at: 8, do: "changeExpiry", expiresAt: 9 },
      { at: 8, do: "grant", expiresAt: 10 },
    ],
    queries: [q(9, "valid", { confirmations: 3 }), q(9, "valid")],
  },
  {
    name: "an unconfirmed data expiry earlier than the grant's counts at once",
    actions: [
      { at: 0, do: "grant", expiresAt: 100 },
      { at: 9, do: "setDataExpiry", expiresAt: 10 },
    ],
    queries: [q(10, "data-expired", { confirmations: 2 })],
  },
  {
    name: "an unconfirmed clearing of a data expiry does not revive the grant",
    actions: [
      { at: 0, do: "grant", expiresAt: 100 },
      { at: 1, do: "setDataExpiry", expiresAt: 10 },
      { at: 11, do: "setDataExpiry", expiresAt: 0 },
    ],
    queries: [q(11, "data-expired", { confirmations: 2 }), q(13, "valid", { confirmations: 2 })],
  },
  {
    name: "a data expiry cleared and set later, both unconfirmed: the confirmed data expiry holds",
    actions: [
      { at: 0, do: "grant", expiresAt: 100 },
      { at: 1, do: "setDataExpiry", expiresAt: 10 },
      { at: 8, do: "setDataExpiry", expiresAt: 0 },
      { at: 9, do: "setDataExpiry", expiresAt: 20 },
    ],
    queries: [q(10, "data-expired", { confirmations: 3 }), q(10, "valid")],
  },
  {
    name: "a grant issued again after expiry counts only once confirmed",
    actions: [
      { at: 0, do: "grant", expiresAt: 5 },
      { at: 9, do: "grant", expiresAt: 50 },
    ],
    queries: [q(9, "no-grant", { confirmations: 2 }), q(11, "valid", { confirmations: 2 })],
  },
  {
    name: "a grant revoked and issued again, both unconfirmed, counts only once confirmed",
    actions: [
      { at: 0, do: "grant", expiresAt: 50 },
      { at: 8, do: "revoke" },
      { at: 9, do: "grant", expiresAt: 50 },
    ],
    queries: [q(9, "no-grant", { confirmations: 3 }), q(9, "valid")],
  },
];
