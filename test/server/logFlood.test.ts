import { expect } from "chai";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import pino from "pino";
import { createApp } from "../../server/http/app";
import { IndexStaleError } from "../../server/chain/indexer";

const unused = () => {
  throw new Error("not used by this test");
};

describe("logs that flood", function () {
  it("logs an outage's 503 INDEX_STALE refusals as one warning, with their count once service returns", async function () {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    let stale = true;
    const app = createApp({
      data: { release: unused, put: unused, delete: unused, list: unused },
      grants: {
        list: unused,
        check: () => {
          if (stale) throw new IndexStaleError("the chain was last read 5000 ms ago");
          return { allowed: true } as never;
        },
      },
      relayer: { relay: unused },
      auth: { newNonce: () => "n0nce0000", login: unused },
      publicConfig: unused,
      authenticate: () => "0x" + "11".repeat(20),
      ready: () => ({ ready: true, detail: {} }),
      logger: pino({ level: "info" }, sink),
      bodyLimit: "100kb",
      rateLimitPerMinute: 100_000,
    } as never);
    const server = app.listen(0, "127.0.0.1");
    await once(server, "listening");
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const check = () =>
      fetch(`${url}/v1/grants/check?subject=0x${"22".repeat(20)}&grantee=0x${"33".repeat(20)}&category=contact.email&purpose=dpv:Marketing`, {
        headers: { authorization: "Bearer t" },
      });
    try {
      for (let i = 0; i < 200; i++) expect((await check()).status).to.equal(503);
      const duringOutage = lines.length;
      expect(duringOutage, JSON.stringify(lines.slice(0, 3))).to.be.at.most(1);
      expect(lines.filter((l) => (l.level as number) >= 50)).to.deep.equal([]);
      expect(lines[0]).to.include({ level: 40, code: "INDEX_STALE" });

      stale = false;
      expect((await check()).status).to.equal(200);
      const recovered = lines.slice(duringOutage);
      expect(recovered).to.have.length(1);
      expect(recovered[0]).to.include({ code: "INDEX_STALE", refusals: 200 });

      // A second outage is an episode of its own.
      stale = true;
      for (let i = 0; i < 5; i++) await check();
      expect(lines.slice(duringOutage + 1)).to.have.length(1);
    } finally {
      server.close();
    }
  });
});
