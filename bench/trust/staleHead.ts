import hre from "hardhat";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { Wallet } from "ethers";
import pino from "pino";
import { parseEnv } from "../../server/config/env";
import { createGateway } from "../../server/gateway";
import { deployLedger } from "../../scripts/lib/deploy";
import { signIn } from "../../auditor/gatewayClient";
import { startAnvil } from "../../test/helpers/anvil";

/** The window the bench runs the gateway with: small, so that the run takes seconds. */
export const STALE_HEAD_MAX_AGE_SECONDS = 2;
/** The goal: a head that stops advancing is refused within MAX_HEAD_AGE_SECONDS + 1 s. */
export const STALE_HEAD_GOAL_MS = (STALE_HEAD_MAX_AGE_SECONDS + 1) * 1000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A gateway over a node (anvil, a chain of its own whose clock is the wall clock) that mines a block
 * a second and then stops: the time from the moment the last block was mined (its evm_mine
 * answered) to the gateway's first 503 on a grant check, asked every 5 ms, a decision on the same
 * rule as a release. Block times are whole seconds: the head's age passes the window between
 * MAX_HEAD_AGE_SECONDS - 1 s and MAX_HEAD_AGE_SECONDS after the block was mined.
 */
export async function benchStaleHead(): Promise<{ staleHeadToDenyMs: number }> {
  const anvil = await startAnvil();
  const dir = mkdtempSync(join(tmpdir(), "dul-stale-head-"));
  try {
    const deployment = await deployLedger(hre, { signer: anvil.signers[0] });
    const env = parseEnv({ DATA_DIR: dir, CHAIN_ID: String(deployment.chainId), MAX_HEAD_AGE_SECONDS: String(STALE_HEAD_MAX_AGE_SECONDS), POLL_INTERVAL_MS: "50", LOG_LEVEL: "silent" });
    const gateway = createGateway({ env, deployment, provider: anvil.provider, signer: anvil.signers[0], masterKey: Buffer.alloc(32, 3), logger: pino({ level: "silent" }) });
    await anvil.send("evm_mine");
    await gateway.start();
    const server = gateway.app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const service = Wallet.createRandom();
      const token = await signIn(url, service, { domain: gateway.domain });
      const check = `${url}/v1/grants/check?subject=${Wallet.createRandom().address}&grantee=${service.address}&category=bench.stale&purpose=dpv:Marketing`;
      const ask = async () => {
        const res = await fetch(check, { headers: { authorization: `Bearer ${token}` } });
        return { status: res.status, body: (await res.json()) as { error?: { message: string } } };
      };

      // The node advances a block a second, and the gateway serves.
      // Each block is stamped with the second it is mined in, as a producing node stamps its own
      // (anvil's evm_mine alone stamps the time its pending block was opened, up to a block earlier).
      const mineNow = () => anvil.mineAt(Math.floor(Date.now() / 1000));
      let lastMinedAt = 0;
      const indexed = async () => {
        const head = await anvil.latest();
        while ((gateway.indexer.lastView()?.headNumber ?? -1) < head.number) await sleep(5);
      };
      for (let i = 0; i < 3; i++) {
        await mineNow();
        lastMinedAt = performance.now();
        await indexed();
        const answer = await ask();
        if (answer.status !== 200) throw new Error(`stale-head bench: the grant check answered ${answer.status} while the head advanced: ${answer.body.error?.message}`);
        await sleep(Math.max(0, 1000 - (performance.now() - lastMinedAt)));
      }
      // One last block, and then nothing: the head stops advancing here.
      await mineNow();
      lastMinedAt = performance.now();
      const last = await anvil.latest();
      // Denials on the head before it (its age) are not this figure: from here the gateway holds the last head.
      await indexed();
      for (;;) {
        const answer = await ask();
        if (answer.status === 503) {
          if (!answer.body.error?.message.includes(`(block ${last.number}) is`)) throw new Error(`stale-head bench: refused for another reason: ${answer.body.error?.message}`);
          break;
        }
        if (answer.status !== 200) throw new Error(`stale-head bench: the grant check answered ${answer.status}`);
        if (performance.now() - lastMinedAt > 10 * STALE_HEAD_GOAL_MS) throw new Error("stale-head bench: a stalled head was never refused");
        await sleep(5);
      }
      return { staleHeadToDenyMs: Math.round(performance.now() - lastMinedAt) };
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await gateway.stop();
    }
  } finally {
    await anvil.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  benchStaleHead().then(
    (result) => console.log(JSON.stringify({ ...result, maxHeadAgeSeconds: STALE_HEAD_MAX_AGE_SECONDS, goalMs: STALE_HEAD_GOAL_MS })),
    (error) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
