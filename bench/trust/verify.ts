import hre from "hardhat";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mine, time } from "@nomicfoundation/hardhat-network-helpers";
import { DataUseRegistry__factory } from "../../typechain-types";
import { labelToId } from "../../core/ids";
import { SqliteStore } from "../../server/store/sqlite";
import { readChainHistory, type ChainHistory } from "../../auditor/history";
import { verifyLog } from "../../auditor/verify";
import { deployLedger } from "../../scripts/lib/deploy";

/** The window the bench's releases keep to when the deployment registers no log (AuditAnchor's registration gives it otherwise). */
const WINDOW_SECONDS = 30;

/**
 * `audit verify` over a log of `size` entries, half of them releases under one grant, each stating
 * a canonical head within the window, read back from the gateway's store as the CLI's --gateway
 * would serve them. Times verifyLog alone (not the build nor the read).
 */
export async function benchVerify(size = 1_000_000): Promise<{ verifyEntriesPerSec: number; verifySec: number; mainCpuSec: number | null; processCpuSec: number; readSec: number; buildSec: number; entries: number }> {
  const [, subject, service] = await hre.ethers.getSigners();
  const dir = mkdtempSync(join(tmpdir(), "dul-verify-"));
  const store = new SqliteStore(join(dir, "g.sqlite"));
  try {
    const deployment = await deployLedger(hre);
    const registry = DataUseRegistry__factory.connect(deployment.contracts.DataUseRegistry.address, subject);
    await mine();
    await (await registry.grant(service.address, labelToId("bench.verify"), labelToId("dpv:ServiceProvision"), (await time.latest()) + 86_400)).wait();
    const grantBlock = await hre.ethers.provider.getBlockNumber();
    const heads: { headBlock: number; headHash: string; headTime: number }[] = [];
    for (let i = 0; i < 8; i++) {
      await mine();
      const block = (await hre.ethers.provider.getBlock("latest"))!;
      heads.push({ headBlock: block.number, headHash: block.hash!.toLowerCase(), headTime: block.timestamp });
    }
    const s = subject.address.toLowerCase();
    const grantee = service.address.toLowerCase();
    const built = performance.now();
    const page = 10_000;
    for (let i = 0; i < size; i += page) {
      // Heads advance through the log; each release is logged within the window of its head.
      const head = heads[Math.floor((i / size) * heads.length)];
      store.appendLog(Array.from({ length: Math.min(page, size - i) }, (_, j) => ({
        at: head.headTime * 1000 + 500, kind: (i + j) % 2 ? "release" : "write", requestId: `r${i + j}`, actor: grantee, subject: s,
        grantee, category: "bench.verify", purpose: "dpv:ServiceProvision", grantBlock, grantTx: null,
        payloadHash: "0x" + "ab".repeat(32), detail: (i + j) % 2 ? { decidedAt: head.headTime, ...head } : { created: false },
      })));
    }
    const buildSec = (performance.now() - built) / 1000;
    const read = await readChainHistory(hre.ethers.provider, deployment);
    const history: ChainHistory = { ...read, log: read.log ?? { logId: "0x", origin: "bench", noteKey: "0x", maxHeadAgeSeconds: WINDOW_SECONDS, blockNumber: 0 } };
    const t0 = performance.now();
    const entries = store.readLog(0, store.logSize());
    const t1 = performance.now();
    const [cpu0, main0] = [process.cpuUsage(), mainThreadCpuSec()];
    const report = await verifyLog({ entries, checkpoints: [], history, graceSeconds: 0 });
    const t2 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    const main1 = mainThreadCpuSec();
    const mainCpuSec = main0 === null || main1 === null ? null : main1 - main0;
    if (!report.ok || report.releases !== Math.floor(size / 2)) throw new Error(`verify bench: ${report.violations.length} violations (${report.violations[0]?.rule}: ${report.violations[0]?.evidence}), ${report.releases} releases`);
    const verifySec = (t2 - t1) / 1000;
    // CPU seconds beside the wall clock: on a shared machine the wall clock measures the neighbours.
    return { verifyEntriesPerSec: Math.round(size / verifySec), verifySec: round(verifySec), mainCpuSec: mainCpuSec === null ? null : round(mainCpuSec), processCpuSec: round((cpu.user + cpu.system) / 1e6), readSec: round((t1 - t0) / 1000), buildSec: round(buildSec), entries: size };
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const round = (x: number) => Math.round(x * 100) / 100;

/** The calling thread's CPU seconds (Linux), or null where /proc does not say. */
function mainThreadCpuSec(): number | null {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

if (require.main === module) {
  benchVerify(Number(process.env.BENCH_VERIFY_ENTRIES ?? 1_000_000))
    .then((result) => console.log(JSON.stringify(result)))
    .catch((error) => {
      console.error(error);
      process.exitCode = 1;
    });
}
