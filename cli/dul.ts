import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { parseArgs } from "node:util";
import pino from "pino";
import { Wallet } from "ethers";
import { HttpRpcProvider } from "../server/chain/rpcProvider";
import { deploymentPath, readDeployment, type Deployment } from "../core/deployment";
import { readChainHistory } from "../auditor/history";
import { verifyLog, type Violation } from "../auditor/verify";
import { witnessVerifiers } from "../auditor/witnessCheck";
import { fetchLog, signIn, type ExportedLog } from "../auditor/gatewayClient";
import { createWitness } from "../server/witness/witnessServer";
import { consentReceipts, historyRows, render } from "../auditor/export";

const USAGE = `dul audit <command> [options]
dul witness --log VKEY [--log VKEY ...] [--key FILE] [--name NAME] [--dir DIR] [--listen HOST:PORT]

Commands
  history  [--subject A] [--grantee B] [--format table|json|csv]   every grant's timeline, from chain events alone
  verify   (--gateway URL | --log FILE) [--save-log FILE] [--grace SECONDS] [--format table|json]
           [--witness VKEY ... [--quorum K]]
           the log against the chain: tree, signed checkpoints, anchors, releases, deletions; exit 1 on any violation;
           with --witness, the latest checkpoint must carry K (default: all) of these witnesses' cosignatures
  export   --subject A [--format json|csv]                          the subject's grants as consent receipts (Kantara / ISO/IEC TS 27560)

Witness (C2SP tlog-witness: cosigns each checkpoint that extends the last one it cosigned)
  --log VKEY           a log's verifier key (its origin+id+base64 key), repeatable
  --key FILE           the witness's signer key, made if missing (default witness.key); prints its verifier key
  --name NAME          the witness's key name when the key is made (default dul-witness)
  --dir DIR            where the latest checkpoint per log and any split view are kept (default witness-data)
  --listen HOST:PORT   default 127.0.0.1:7380

Common options
  --rpc URL            JSON-RPC endpoint (default $RPC_URL or http://127.0.0.1:8545)
  --deployment FILE    deployments/<chainId>.json (default: the one for the RPC's chain id)
  DUL_AUDITOR_KEY      private key of an address in the gateway's AUDITOR_ADDRESSES, to read the log with --gateway`;

const OPTIONS = {
  rpc: { type: "string" },
  deployment: { type: "string" },
  subject: { type: "string" },
  grantee: { type: "string" },
  format: { type: "string" },
  gateway: { type: "string" },
  // --log FILE for audit verify, --log VKEY (repeatable) for witness.
  log: { type: "string", multiple: true },
  "save-log": { type: "string" },
  grace: { type: "string" },
  witness: { type: "string", multiple: true },
  quorum: { type: "string" },
  key: { type: "string" },
  name: { type: "string" },
  dir: { type: "string" },
  listen: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const parse = (argv: string[]) => parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
type Values = ReturnType<typeof parse>["values"];

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  const [group, command] = positionals;
  if (group === "witness" && !values.help) return runWitness(values);
  if (values.help || group !== "audit" || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const provider = new HttpRpcProvider(values.rpc ?? process.env.RPC_URL ?? "http://127.0.0.1:8545", undefined, { staticNetwork: false });
  try {
    return await audit(command, values, provider);
  } finally {
    provider.destroy();
  }
}

async function audit(command: string, values: Values, provider: HttpRpcProvider): Promise<number> {
  const chainId = Number((await provider.getNetwork()).chainId);
  const deploymentFile = values.deployment ?? deploymentPath(process.cwd(), chainId);
  if (!existsSync(deploymentFile)) throw new UsageError(`no deployment file ${deploymentFile}: pass --deployment`);
  const deployment: Deployment = readDeployment(deploymentFile);
  if (deployment.chainId !== chainId) throw new UsageError(`${deploymentFile} is for chain ${deployment.chainId}, the RPC serves chain ${chainId}`);
  const history = await readChainHistory(provider, deployment);
  const lower = (a?: string) => a?.toLowerCase();

  switch (command) {
    case "history": {
      const format = oneOf(values.format ?? "table", ["table", "json", "csv"]);
      console.log(render(historyRows(history.events, { subject: lower(values.subject), grantee: lower(values.grantee) }), format));
      return 0;
    }
    case "export": {
      if (!values.subject) throw new UsageError("export needs --subject");
      const format = oneOf(values.format ?? "json", ["json", "csv"]);
      const receipts = consentReceipts(history, deployment, values.subject.toLowerCase());
      console.log(format === "json" ? JSON.stringify(receipts, null, 2) : render(historyRows(history.events, { subject: lower(values.subject) }), "csv"));
      return 0;
    }
    case "verify": {
      let log: ExportedLog;
      if (values.log?.length) log = JSON.parse(readFileSync(values.log[0], "utf8")) as ExportedLog;
      else if (values.gateway) {
        const key = process.env.DUL_AUDITOR_KEY;
        if (!key) throw new UsageError("set DUL_AUDITOR_KEY to the private key of an auditor address to read the log from --gateway");
        log = await fetchLog(values.gateway.replace(/\/$/, ""), await signIn(values.gateway.replace(/\/$/, ""), new Wallet(key)));
      } else throw new UsageError("verify needs --gateway URL or --log FILE");
      if (values["save-log"]) writeFileSync(values["save-log"], JSON.stringify(log));
      const witnesses = values.witness ?? [];
      const quorum = values.quorum === undefined ? witnesses.length : Number(values.quorum);
      if (!Number.isSafeInteger(quorum) || quorum < 0 || quorum > witnesses.length) throw new UsageError(`--quorum must be between 0 and the ${witnesses.length} --witness keys given`);
      try {
        witnessVerifiers({ witnesses, quorum });
      } catch (error) {
        throw new UsageError(`--witness: ${(error as Error).message}`);
      }
      const report = await verifyLog({ entries: log.entries, checkpoints: log.checkpoints, history, graceSeconds: values.grace ? Number(values.grace) : undefined, witnesses, quorum });
      if ((values.format ?? "table") === "json") console.log(JSON.stringify(report, null, 2));
      else {
        console.log(
          `${report.entries} entries, ${report.releases} releases, ${report.checkpoints} signed checkpoints, ${report.anchors} anchors, ` +
            `${report.grantEnds} grant ends, ${report.dataExpiries} data expiries; deletion lateness p50 ${report.lateness.p50 ?? "-"} s, max ${report.lateness.max ?? "-"} s`,
        );
        if (report.ok) console.log("OK: every release was covered by a grant valid at that moment, and the log matches every checkpoint and anchor.");
        else console.log(render(violationRows(report.violations), "table"));
        if (report.findings.length > 0) {
          console.log(`\n${report.findings.length} finding(s): what an honest gateway can also produce; not failing the audit by themselves`);
          console.log(render(report.findings.map((f) => ({ entry: f.index, finding: f.rule, evidence: f.evidence })), "table"));
        }
      }
      return report.ok ? 0 : 1;
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/** Rows of the violations table: every one when few, else the first few of each rule and how many more (--format json has all). */
function violationRows(violations: readonly Violation[], all = 50, perRule = 10): Record<string, unknown>[] {
  const rows = (list: readonly Violation[]) => list.map((v) => ({ entry: v.index, rule: v.rule, evidence: v.evidence }));
  if (violations.length <= all) return rows(violations);
  const byRule = new Map<string, Violation[]>();
  const counts = new Map<string, number>();
  for (const v of violations) {
    const list = byRule.get(v.rule) ?? [];
    if (list.length < perRule) list.push(v);
    byRule.set(v.rule, list);
    counts.set(v.rule, (counts.get(v.rule) ?? 0) + 1);
  }
  return [...byRule].flatMap(([rule, list]) => [
    ...rows(list),
    ...(counts.get(rule)! > perRule ? [{ entry: "", rule, evidence: `... and ${counts.get(rule)! - perRule} more (--format json lists all)` }] : []),
  ]);
}

class UsageError extends Error {}

/** Runs a witness until the process is stopped; never returns. */
async function runWitness(values: { log?: string[]; key?: string; name?: string; dir?: string; listen?: string }): Promise<number> {
  if (!values.log?.length) throw new UsageError("witness needs at least one --log VKEY");
  const [host, port] = (values.listen ?? "127.0.0.1:7380").split(/:(?=\d+$)/);
  if (!port) throw new UsageError("--listen takes HOST:PORT");
  const logger = pino({ name: "dul-witness" });
  const { witness, server } = createWitness({
    dataDir: values.dir ?? "witness-data",
    keyFile: values.key ?? "witness.key",
    name: values.name ?? "dul-witness",
    logKeys: values.log,
    logger,
  });
  await new Promise<void>((resolve) => server.listen(Number(port), host, resolve));
  console.log(`witness ${witness.cosigner.name} listening on http://${host}:${port}`);
  console.log(`verifier key: ${witness.cosigner.verifierKey}`);
  return new Promise<number>(() => {});
}

function oneOf<T extends string>(value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--format must be one of ${allowed.join(", ")}`);
  return value as T;
}

/**
 * Exits once stdout and stderr have handed everything to the OS: a pipe is written asynchronously,
 * and exiting straight after the last write cut a large JSON report short for the program reading
 * it. Exiting (rather than waiting for the event loop to empty) keeps an idle keep-alive connection
 * to the gateway from holding the command open.
 */
function exitAfterOutput(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const done = () => void (--pending === 0 && process.exit(code));
  process.stdout.write("", done);
  process.stderr.write("", done);
}

main(process.argv.slice(2)).then(exitAfterOutput, (error) => {
  console.error(error instanceof UsageError ? `${error.message}\n\n${USAGE}` : `dul: ${(error as Error).message}`);
  exitAfterOutput(error instanceof UsageError ? 2 : 3);
});
