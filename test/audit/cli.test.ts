import hre from "hardhat";
import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ZeroHash } from "ethers";
import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import type { AuditEntry } from "../../core/auditEntry";
import { deployLedger } from "../../scripts/lib/deploy";
import { removeDir } from "../helpers/gateway";

/** Runs the `dul` command with its stdout into a pipe, and answers every byte that came through and the exit code. */
function runDul(args: string[]): Promise<{ stdout: Buffer; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["bin/dul.js", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ stdout: Buffer.concat(out), stderr, code }));
  });
}

describe("dul audit verify --format json", function () {
  it("writes the whole report into a pipe before it exits, however large", async function () {
    const rpc = await hre.run(TASK_NODE_CREATE_SERVER, { hostname: "127.0.0.1", port: 0, provider: hre.network.provider });
    const { port } = await rpc.listen();
    const dir = mkdtempSync(join(tmpdir(), "dul-cli-json-"));
    try {
      const deployment = await deployLedger(hre);
      const deploymentFile = join(dir, "deployment.json");
      writeFileSync(deploymentFile, JSON.stringify(deployment));
      // A log whose every entry sits at the wrong place: one violation per entry, a report of about a megabyte.
      const count = 6000;
      const entries: AuditEntry[] = Array.from({ length: count }, (_, i) => ({
        index: i % 2 ? i - 1 : i + 1, at: 1_700_000_000_000 + i, kind: "write", requestId: `r-${i}`, actor: null, subject: null, grantee: null,
        category: null, purpose: null, grantBlock: null, grantTx: null, payloadHash: null, detail: null, prevHash: ZeroHash,
      }));
      const logFile = join(dir, "log.json");
      writeFileSync(logFile, JSON.stringify({ entries, checkpoints: [] }));

      const { stdout, stderr, code } = await runDul(["audit", "verify", "--rpc", `http://127.0.0.1:${port}`, "--deployment", deploymentFile, "--log", logFile, "--format", "json"]);
      expect(stderr).to.equal("");
      expect(code).to.equal(1);
      expect(stdout.length).to.be.greaterThan(500_000);
      const report = JSON.parse(stdout.toString("utf8"));
      expect(report.entries).to.equal(count);
      expect(report.violations.length).to.be.at.least(count);
      expect(stdout.toString("utf8")).to.equal(JSON.stringify(report, null, 2) + "\n");
    } finally {
      await rpc.close();
      removeDir(dir);
    }
  });
});
