import hre from "hardhat";
import { expect } from "chai";
import { connect } from "node:net";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { call, login, removeDir, startTestGateway, type TestGateway } from "../helpers/gateway";

/** A raw HTTP/1.1 request, so that a body can be malformed in ways fetch would not send. */
function rawPut(url: string, path: string, token: string, body: string): Promise<{ status: number; body: any }> {
  return fetch(`${url}${path}`, { method: "PUT", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body }).then(async (res) => ({
    status: res.status,
    body: await res.json(),
  }));
}

describe("hostile inputs: refused with a clear 4xx, never a 5xx, never stored changed", function () {
  let gw: TestGateway;
  let subject: HardhatEthersSigner;
  let stranger: HardhatEthersSigner;
  let operator: HardhatEthersSigner;
  let operatorToken: string;
  let strangerToken: string;
  let n = 0;
  const path = (category: string) => `/v1/subjects/${subject.address.toLowerCase()}/data/${category}`;
  const fresh = () => `inputs.c${++n}`;

  before(async function () {
    [, subject, , stranger, operator] = await hre.ethers.getSigners();
    gw = await startTestGateway({ operators: [operator.address], env: { REQUEST_TIMEOUT_MS: "300" } });
    operatorToken = await login(gw.url, operator, gw.gateway.domain);
    strangerToken = await login(gw.url, stranger, gw.gateway.domain);
  });
  after(async function () {
    await gw.close();
    removeDir(gw.dataDir);
  });

  it("refuses a value nested deeper than the limit with 400, whoever sends it to whichever path", async function () {
    for (const depth of [65, 5000, 10_000]) {
      for (const [open, close] of [["[", "]"], ['{"a":', "}"]]) {
        const value = open.repeat(depth) + "1" + close.repeat(depth);
        for (const token of [operatorToken, strangerToken]) {
          const res = await rawPut(gw.url, path(fresh()), token, `{"value":${value}}`);
          expect(res.status, `depth ${depth}`).to.equal(400);
          expect(res.body.error.code).to.equal("INVALID_INPUT");
          expect(res.body.error.message).to.match(/nested/);
        }
      }
    }
    // Just inside the limit is stored and comes back as sent.
    const category = fresh();
    const deep = JSON.parse("[".repeat(60) + '"x"' + "]".repeat(60));
    expect((await call(gw.url, path(category), operatorToken, { method: "PUT", body: { value: deep } })).status).to.equal(201);
  });

  it("refuses a value holding a __proto__ key rather than store it without that key", async function () {
    for (const body of ['{"value":{"__proto__":{"admin":true},"a":1}}', '{"value":[{"b":{"__proto__":1}}]}']) {
      const res = await rawPut(gw.url, path(fresh()), operatorToken, body);
      expect(res.status, body).to.equal(400);
      expect(res.body.error.message).to.match(/__proto__/);
    }
  });

  it("refuses a number JavaScript cannot hold exactly rather than store it rounded", async function () {
    for (const literal of ["9007199254740993", "-9007199254740993", "1e400", "0.1000000000000000055511151231257827"]) {
      const res = await rawPut(gw.url, path(fresh()), operatorToken, `{"value":{"n":${literal}}}`);
      expect(res.status, literal).to.equal(400);
      expect(res.body.error.message).to.match(/exactly/);
    }
    // Numbers that round-trip are kept, whatever their spelling.
    for (const literal of ["9007199254740991", "0.1", "1.5e3", "-0.25", "1E2", "100.0"]) {
      const res = await rawPut(gw.url, path(fresh()), operatorToken, `{"value":{"n":${literal}}}`);
      expect(res.status, literal).to.equal(201);
    }
  });

  it("closes a request that announces a body and never sends it, within REQUEST_TIMEOUT_MS", async function () {
    const { port } = new URL(gw.url);
    const socket = connect(Number(port), "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write(`PUT ${path(fresh())} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100\r\nauthorization: Bearer ${operatorToken}\r\n\r\n{"val`);
    let answer = "";
    socket.on("data", (chunk) => (answer += chunk.toString()));
    const closed = await Promise.race([
      new Promise<boolean>((resolve) => socket.once("close", () => resolve(true))),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5000)),
    ]);
    socket.destroy();
    expect(closed, "the socket was still open after 5 s").to.equal(true);
    expect(answer).to.match(/^HTTP\/1\.1 408/);
  });

  it("serves /metrics only with METRICS_TOKEN", async function () {
    expect((await fetch(`${gw.url}/metrics`)).status).to.equal(404);
    const guarded = await startTestGateway({ deployment: gw.deployment, env: { METRICS_TOKEN: "s3cret-metrics-token" } });
    try {
      expect((await fetch(`${guarded.url}/metrics`)).status).to.equal(401);
      expect((await fetch(`${guarded.url}/metrics`, { headers: { authorization: "Bearer wrong" } })).status).to.equal(401);
      const ok = await fetch(`${guarded.url}/metrics`, { headers: { authorization: "Bearer s3cret-metrics-token" } });
      expect(ok.status).to.equal(200);
      expect(await ok.text()).to.contain("http_request_duration_seconds");
    } finally {
      await guarded.close();
      removeDir(guarded.dataDir);
    }
  });
});
