import { BYTES32, labelToId } from "./ids";

/**
 * A small shared catalogue of category and purpose labels, with words a person reads. The chain and
 * the index speak only of ids (keccak256 of a label); whoever shows a grant to a person maps the id
 * back through this catalogue, or through labels it has seen elsewhere, and shows the id otherwise.
 * Purposes are W3C Data Privacy Vocabulary (DPV) terms.
 */
export interface KnownLabel {
  label: string;
  /** Short words for a person: "Email address", "Providing the service". */
  title: string;
}

export const CATEGORIES: readonly KnownLabel[] = [
  { label: "contact.email", title: "Email address" },
  { label: "contact.phone", title: "Phone number" },
  { label: "contact.address", title: "Postal address" },
  { label: "profile.name", title: "Name" },
  { label: "profile.birthdate", title: "Date of birth" },
  { label: "purchase.history", title: "Purchase history" },
  { label: "payment.card", title: "Payment card" },
  { label: "location.approximate", title: "Approximate location" },
  { label: "location.precise", title: "Precise location" },
  { label: "device.identifiers", title: "Device identifiers" },
  { label: "health.fitness", title: "Fitness data" },
];

export const PURPOSES: readonly KnownLabel[] = [
  { label: "dpv:ServiceProvision", title: "Providing the service" },
  { label: "dpv:CustomerCare", title: "Customer care" },
  { label: "dpv:AccountManagement", title: "Managing your account" },
  { label: "dpv:IdentityVerification", title: "Verifying your identity" },
  { label: "dpv:FraudPreventionAndDetection", title: "Preventing fraud" },
  { label: "dpv:LegalCompliance", title: "Complying with the law" },
  { label: "dpv:ServicePersonalisation", title: "Personalising the service" },
  { label: "dpv:ServiceOptimisation", title: "Improving the service" },
  { label: "dpv:ResearchAndDevelopment", title: "Research and development" },
  { label: "dpv:CommunicationManagement", title: "Sending you messages" },
  { label: "dpv:Marketing", title: "Marketing" },
  { label: "dpv:DirectMarketing", title: "Direct marketing" },
  { label: "dpv:PersonalisedAdvertising", title: "Personalised advertising" },
];

/** Whether `idOrLabel` is already an id (32 bytes, hex) rather than a label. */
export const isId = (idOrLabel: string): boolean => BYTES32.test(idOrLabel);

/** The lower-case id of a label, or of an id as given: the key the index and this catalogue use. */
export const idOf = (idOrLabel: string): string => (isId(idOrLabel) ? idOrLabel : labelToId(idOrLabel)).toLowerCase();

/** Maps ids (lower-case hex) and labels back to catalogue entries; learns labels seen at run time. */
export class LabelBook {
  private readonly byId = new Map<string, KnownLabel>();

  constructor(known: readonly KnownLabel[] = [...CATEGORIES, ...PURPOSES]) {
    for (const entry of known) this.add(entry.label, entry.title);
  }

  /** Remembers a label (e.g. a category the platform holds that the catalogue lacks). */
  add(label: string, title?: string): void {
    const id = labelToId(label).toLowerCase();
    const existing = this.byId.get(id);
    if (existing && !title) return;
    this.byId.set(id, { label, title: title ?? existing?.title ?? label });
  }

  /** The entry for an id or a label; `null` for an id never seen. */
  lookup(idOrLabel: string): KnownLabel | null {
    return this.byId.get(idOf(idOrLabel)) ?? (isId(idOrLabel) ? null : { label: idOrLabel, title: idOrLabel });
  }
}
