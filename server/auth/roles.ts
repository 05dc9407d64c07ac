/** Roles that come from configuration; everyone else acts as a subject or a service by address. */
export class Roles {
  private readonly operators: ReadonlySet<string>;
  private readonly auditors: ReadonlySet<string>;

  constructor(operators: readonly string[], auditors: readonly string[]) {
    this.operators = new Set(operators.map((a) => a.toLowerCase()));
    this.auditors = new Set(auditors.map((a) => a.toLowerCase()));
  }

  isOperator(address: string): boolean {
    return this.operators.has(address);
  }

  isAuditor(address: string): boolean {
    return this.auditors.has(address);
  }

  /** Operators and auditors see every grant and log entry. */
  seesEverything(address: string): boolean {
    return this.isOperator(address) || this.isAuditor(address);
  }
}
