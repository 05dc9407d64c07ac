import hre from "hardhat";
import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HDNodeWallet, Wallet, hexlify } from "ethers";
import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import { deployLedger } from "../../scripts/lib/deploy";
import { checkpointNoteKey } from "../../server/audit/noteKey";
import { removeDir } from "../helpers/gateway";

/** The private key of Hardhat's account `i` (the public test mnemonic). */
function hardhatKey(i: number): string {
  const { mnemonic, path } = hre.network.config.accounts as { mnemonic: string; path: string };
  return HDNodeWallet.fromPhrase(mnemonic, undefined, `${path}/${i}`).privateKey;
}

/** Runs `npm run gateway` (server/index.ts) with `env` until it exits by itself. */
function runGatewayProcess(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["-r", "ts-node/register/transpile-only", "server/index.ts"], { env: { ...process.env, ...env }, timeout: 50_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, output: stdout + stderr });
    });
  });
}

describe("npm run gateway: the anchoring key and the log's window", function () {
  let rpc: { close(): Promise<void> };
  let env: Record<string, string>;
  let dir: string;

  before(async function () {
    const server = await hre.run(TASK_NODE_CREATE_SERVER, { hostname: "127.0.0.1", port: 0, provider: hre.network.provider });
    const { port } = await server.listen();
    rpc = server;
    dir = mkdtempSync(join(tmpdir(), "dul-index-"));
    const masterKey = Buffer.alloc(32, 5);
    const deployment = await deployLedger(hre, { anchorers: [new Wallet(hardhatKey(10)).address], noteKey: hexlify(checkpointNoteKey(masterKey).publicKey), maxHeadAgeSeconds: 20 });
    const deploymentFile = join(dir, "deployment.json");
    writeFileSync(deploymentFile, JSON.stringify(deployment));
    env = {
      RPC_URL: `http://127.0.0.1:${port}`, CHAIN_ID: "31337", DEPLOYMENT_FILE: deploymentFile, GATEWAY_PRIVATE_KEY: hardhatKey(9), MASTER_KEY: masterKey.toString("hex"),
      DATA_DIR: dir, PORT: "0", LOG_LEVEL: "silent", MAX_HEAD_AGE_SECONDS: "20",
    };
  });

  after(async function () {
    await rpc.close();
    removeDir(dir);
  });

  it("refuses to start without an anchoring key, or with the relaying key as the anchoring key", async function () {
    const missing = await runGatewayProcess(env);
    expect(missing.code).to.equal(2);
    expect(missing.output).to.contain("ANCHOR_PRIVATE_KEY: required");
    const same = await runGatewayProcess({ ...env, ANCHOR_PRIVATE_KEY: env.GATEWAY_PRIVATE_KEY });
    expect(same.code).to.equal(2);
    expect(same.output).to.contain("ANCHOR_PRIVATE_KEY: must not be GATEWAY_PRIVATE_KEY");
  });

  it("refuses to start, saying why, with MAX_HEAD_AGE_SECONDS longer than the log's registered window", async function () {
    const { code, output } = await runGatewayProcess({ ...env, ANCHOR_PRIVATE_KEY: hardhatKey(10), MAX_HEAD_AGE_SECONDS: "25" });
    expect(code).to.equal(2);
    expect(output).to.contain("MAX_HEAD_AGE_SECONDS: 25, longer than the 20 s registered for log");
  });
});
