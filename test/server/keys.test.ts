import hre from "hardhat";
import { expect } from "chai";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Signer } from "ethers";
import pino from "pino";
import { ConfigError, parseEnv } from "../../server/config/env";
import { createGateway, loadMasterKey } from "../../server/gateway";
import { call, login, removeDir, startTestGateway } from "../helpers/gateway";

const run = promisify(execFile);
const mode = (file: string) => statSync(file).mode & 0o777;

describe("keys and the files that hold data", function () {
  it("refuses to start with another MASTER_KEY than the database was written with, saying so", async function () {
    const [, subject, , , operator] = await hre.ethers.getSigners();
    const first = await startTestGateway({ operators: [operator.address] });
    const token = await login(first.url, operator, first.gateway.domain);
    expect((await call(first.url, `/v1/subjects/${subject.address.toLowerCase()}/data/keys.a`, token, { method: "PUT", body: { value: 1 } })).status).to.equal(201);
    await first.close();
    try {
      const env = parseEnv({ DATA_DIR: first.dataDir, LOG_LEVEL: "silent" });
      const [deployer] = await hre.ethers.getSigners();
      expect(() =>
        createGateway({ env, deployment: first.deployment, provider: hre.ethers.provider, signer: deployer as unknown as Signer, masterKey: Buffer.alloc(32, 9), logger: pino({ level: "silent" }) }),
      ).to.throw(ConfigError, /MASTER_KEY/);
    } finally {
      removeDir(first.dataDir);
    }
  });

  it("creates the database, its WAL and a generated key readable by their owner alone", async function () {
    const gw = await startTestGateway();
    try {
      await gw.gateway.audit.checkpoint();
      for (const file of ["gateway.sqlite", "gateway.sqlite-wal", "gateway.sqlite-shm"]) expect(mode(join(gw.dataDir, file)), file).to.equal(0o600);
    } finally {
      await gw.close();
      removeDir(gw.dataDir);
    }
    const dir = mkdtempSync(join(tmpdir(), "dul-keys-"));
    try {
      loadMasterKey(parseEnv({ DATA_DIR: dir }), () => undefined);
      expect(mode(join(dir, "master.key"))).to.equal(0o600);
    } finally {
      removeDir(dir);
    }
  });

  it("keeps a generated key beside a DATABASE_PATH outside DATA_DIR", function () {
    const [data, elsewhere] = [mkdtempSync(join(tmpdir(), "dul-data-")), mkdtempSync(join(tmpdir(), "dul-db-"))];
    try {
      loadMasterKey(parseEnv({ DATA_DIR: data, DATABASE_PATH: join(elsewhere, "g.sqlite") }), () => undefined);
      expect(existsSync(join(elsewhere, "master.key"))).to.equal(true);
      expect(existsSync(join(data, "master.key"))).to.equal(false);
    } finally {
      removeDir(data);
      removeDir(elsewhere);
    }
  });

  it("npm run gateway refuses to start without MASTER_KEY", async function () {
    const env = { ...process.env, GATEWAY_PRIVATE_KEY: "0x" + "11".repeat(32), ANCHOR_PRIVATE_KEY: "0x" + "22".repeat(32), MASTER_KEY: "", DATA_DIR: tmpdir() };
    delete (env as Record<string, string | undefined>).MASTER_KEY;
    const outcome = await run(process.execPath, ["-r", "ts-node/register/transpile-only", "server/index.ts"], { env, timeout: 60_000 }).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(outcome.code).to.equal(2);
    expect(outcome.stderr).to.match(/MASTER_KEY/);
  });

  it("is not ready once the access log's writer thread is dead", async function () {
    const gw = await startTestGateway();
    try {
      expect((await call(gw.url, "/readyz", null)).status).to.equal(200);
      await (gw.gateway.logWriter as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
      const res = await call(gw.url, "/readyz", null);
      expect(res.status).to.equal(503);
      expect(JSON.stringify(res.body)).to.match(/writer/);
    } finally {
      await gw.close().catch(() => undefined);
      removeDir(gw.dataDir);
    }
  });
});
