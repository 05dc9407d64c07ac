import { execFile, spawn, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");
/** Node flags for the bench's child processes, e.g. BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them. */
const nodeArgs = (script: string) => [...(process.env.BENCH_NODE_ARGS?.split(" ").filter(Boolean) ?? []), "-r", "ts-node/register/transpile-only", join(ROOT, script)];

/** A loopback port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface NodeProcess {
  url: string;
  /** CPU seconds (user and system) the process has used so far, from /proc; null where there is no /proc. */
  cpuSeconds(): number | null;
  stop(): Promise<void>;
}

/** Linux reports a process's CPU time in clock ticks of 1/100 s (USER_HZ) on x86 and Arm. */
const USER_HZ = 100;

function cpuSecondsOf(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    // Fields after the command name, which may hold spaces: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return null;
  }
}

/**
 * Runs a TypeScript entry point as its own Node process, as production runs the gateway, and waits
 * until `${url}${readyPath}` answers 200.
 */
export async function startNodeProcess(script: string, env: Record<string, string>, readyPath = "/healthz", timeoutMs = 60_000): Promise<NodeProcess> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, nodeArgs(script), {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: "127.0.0.1" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  return whenReady(child, script, url, () => fetch(`${url}${readyPath}`).then((res) => res.ok, () => false), timeoutMs);
}

/** Waits until `ready()` says so, then hands out the process; kills it when it is not ready in time. */
async function whenReady(child: ChildProcess, name: string, url: string, ready: () => Promise<boolean>, timeoutMs: number): Promise<NodeProcess> {
  const exited = once(child, "exit");
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} before it was ready`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${name} was not ready at ${url} within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    cpuSeconds: () => cpuSecondsOf(child.pid),
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Runs a TypeScript entry point as its own Node process to the end and returns what it printed. */
export async function runNodeScript(script: string, env: Record<string, string>): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, nodeArgs(script), {
    cwd: ROOT,
    env: { ...process.env, ...env },
    maxBuffer: 1 << 24,
  });
  return stdout;
}

const hardhat = join(ROOT, "node_modules", ".bin", "hardhat");

/** A Hardhat node in a process of its own, on a free loopback port; ready once it answers JSON-RPC. */
export async function startHardhatNode(timeoutMs = 60_000): Promise<NodeProcess> {
  const port = await freePort();
  const child = spawn(hardhat, ["node", "--hostname", "127.0.0.1", "--port", String(port)], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  const url = `http://127.0.0.1:${port}`;
  const answers = () =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }) }).then(
      (res) => res.ok,
      () => false,
    );
  return whenReady(child, "hardhat node", url, answers, timeoutMs);
}

/** `hardhat run --network localhost <script>` against RPC_URL (see hardhat.config.ts), to the end. */
export async function runHardhatScript(script: string, env: Record<string, string>): Promise<void> {
  await promisify(execFile)(hardhat, ["run", "--network", "localhost", join(ROOT, script)], { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 1 << 24 });
}
