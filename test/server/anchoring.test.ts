import hre from "hardhat";
import { expect } from "chai";
import { hexlify, verifyMessage, type Signer } from "ethers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { AuditAnchor__factory, DataUseRegistry__factory } from "../../typechain-types";
import { labelToId } from "../../core/ids";
import { logIdOf, logOriginOf } from "../../core/logOrigin";
import type { Deployment } from "../../core/deployment";
import { ConfigError } from "../../server/config/env";
import { checkpointNoteKey } from "../../server/audit/noteKey";
import { deployLedger } from "../../scripts/lib/deploy";
import { call, login, removeDir, startTestGateway, synced, TEST_MASTER_KEY, type TestGateway } from "../helpers/gateway";

const NOTE_KEY = hexlify(checkpointNoteKey(TEST_MASTER_KEY).publicKey);
const QUIET = { CHECKPOINT_INTERVAL_MS: "3600000", ANCHOR_INTERVAL_MS: "3600000" };

describe("anchoring: only this gateway's registered log, with the anchoring key, on the recorded schedule", function () {
  let subject: HardhatEthersSigner;
  let service: HardhatEthersSigner;
  let operator: HardhatEthersSigner;
  let anchorKey: HardhatEthersSigner;
  const open: TestGateway[] = [];
  let n = 0;

  before(async function () {
    [, subject, service, , operator, , , anchorKey] = await hre.ethers.getSigners();
  });

  afterEach(async function () {
    for (const gw of open.splice(0)) {
      await gw.close().catch(() => undefined);
      removeDir(gw.dataDir);
    }
  });

  const start = async (options: Parameters<typeof startTestGateway>[0] = {}) => {
    const gw = await startTestGateway({ operators: [operator.address], ...options, env: { ...QUIET, ...options.env } });
    open.push(gw);
    return gw;
  };
  const write = async (gw: TestGateway) => {
    const token = await login(gw.url, operator, gw.gateway.domain);
    const res = await call(gw.url, `/v1/subjects/${subject.address.toLowerCase()}/data/anchoring.${++n}`, token, { method: "PUT", body: { value: n } });
    expect(res.status).to.equal(201);
  };
  const anchorsOnChain = async (deployment: Deployment) => {
    const anchor = AuditAnchor__factory.connect(deployment.contracts.AuditAnchor.address, hre.ethers.provider);
    return (await anchor.queryFilter(anchor.filters.CheckpointAnchored())).map((e) => ({ logId: e.args.logId, anchorer: e.args.anchorer, treeSize: Number(e.args.treeSize) }));
  };

  it("a gateway restarted more often than the anchor interval still anchors", async function () {
    const interval = 3_600_000;
    let clock = Date.now();
    const now = () => clock;
    const first = await start({ now });
    // Nothing anchored, nothing to anchor: an interval from now.
    expect(first.gateway.audit.anchoring.next!.at).to.equal(clock + interval);
    await write(first);
    await write(first);
    await first.close();

    // Restarted before its first anchor, with entries: it anchors them at once.
    const again = await start({ deployment: first.deployment, dataDir: first.dataDir, now });
    expect(again.gateway.audit.anchoring.next!.at).to.equal(clock);
    const anchored = (await again.gateway.audit.anchoring.next!.done)!;
    expect(anchored.treeSize).to.equal(2);
    await write(again);
    await again.close();

    // Restarted half an interval after the last anchor: the next one is an interval after it, not after the boot.
    clock = anchored.anchoredAt * 1000 + interval / 2;
    const second = await start({ deployment: first.deployment, dataDir: first.dataDir, now });
    expect(second.gateway.audit.anchoring.next!.at).to.equal(anchored.anchoredAt * 1000 + interval);
    await write(second);
    await second.close();

    // Restarted again, well within an interval of its own boot but past one since the last anchor: anchors at once.
    clock = anchored.anchoredAt * 1000 + interval + 1;
    const third = await start({ deployment: first.deployment, dataDir: first.dataDir, now });
    const next = third.gateway.audit.anchoring.next!;
    expect(next.at).to.equal(clock);
    expect((await next.done)?.treeSize).to.equal(4);
    const logId = logIdOf(logOriginOf(first.deployment));
    expect((await anchorsOnChain(first.deployment)).map((a) => [a.logId, a.treeSize])).to.deep.equal([[logId, 2], [logId, 4]]);
    // And then an interval later, by the same clock.
    expect(third.gateway.audit.anchoring.next!.at).to.equal(clock + interval);
  });

  it("refuses to anchor a log registered under another note key, says why in /readyz, and keeps releasing", async function () {
    const stranger = hexlify(checkpointNoteKey(Buffer.alloc(32, 9)).publicKey);
    const deployment = await deployLedger(hre, { noteKey: stranger });
    const gw = await start({ deployment });
    expect(gw.gateway.audit.anchoring.status).to.deep.include({ ok: false });
    const ready = await call(gw.url, "/readyz", null);
    expect(ready.status).to.equal(200);
    expect(ready.body.ready).to.equal(true);
    expect(ready.body.anchoring.ok).to.equal(false);
    expect(ready.body.anchoring.reason).to.contain(`note key ${stranger}`).and.contain(NOTE_KEY);

    // Releases go on.
    await write(gw);
    const registry = DataUseRegistry__factory.connect(deployment.contracts.DataUseRegistry.address, subject);
    await (await registry.grant(service.address, labelToId(`anchoring.${n}`), labelToId("dpv:ServiceProvision"), (await time.latest()) + 3600)).wait();
    await synced(gw.gateway);
    const serviceToken = await login(gw.url, service, gw.gateway.domain);
    const released = await call(gw.url, `/v1/subjects/${subject.address.toLowerCase()}/data/anchoring.${n}?purpose=dpv:ServiceProvision`, serviceToken);
    expect(released.status, JSON.stringify(released.body)).to.equal(200);

    expect(await gw.gateway.audit.anchor()).to.equal(null);
    expect(await anchorsOnChain(deployment)).to.deep.equal([]);
  });

  it("refuses to anchor a log never registered, and anchors it once the admin registers it", async function () {
    const [deployer] = await hre.ethers.getSigners();
    const deployment = await deployLedger(hre);
    const gw = await start({ deployment });
    await write(gw);
    const status = gw.gateway.audit.anchoring.status;
    expect(status.ok).to.equal(false);
    expect(!status.ok && status.reason).to.contain("not registered").and.contain(NOTE_KEY);
    expect(await gw.gateway.audit.anchor()).to.equal(null);

    const anchor = AuditAnchor__factory.connect(deployment.contracts.AuditAnchor.address, deployer);
    await (await anchor.registerLog(logOriginOf(deployment), NOTE_KEY, 30)).wait();
    expect((await gw.gateway.audit.anchor())?.treeSize).to.equal(1);
    expect(gw.gateway.audit.anchoring.status).to.deep.equal({ ok: true, anchorer: deployer.address });
    expect(await anchorsOnChain(deployment)).to.deep.equal([{ logId: logIdOf(logOriginOf(deployment)), anchorer: deployer.address, treeSize: 1 }]);
  });

  it("refuses to start with MAX_HEAD_AGE_SECONDS longer than the log's registered window, which the auditor holds releases to", async function () {
    const deployment = await deployLedger(hre, { noteKey: NOTE_KEY, maxHeadAgeSeconds: 10 });
    await expect(start({ deployment, env: { MAX_HEAD_AGE_SECONDS: "11" } })).to.be.rejectedWith(ConfigError, /MAX_HEAD_AGE_SECONDS: 11, longer than the 10 s registered/);
    const gw = await start({ deployment, env: { MAX_HEAD_AGE_SECONDS: "10" } });
    expect(gw.gateway.audit.anchoring.status.ok).to.equal(true);
  });

  it("anchors and signs checkpoints with the anchoring key, not the relaying key; without one it does not anchor", async function () {
    const [deployer] = await hre.ethers.getSigners();
    const deployment = await deployLedger(hre, { noteKey: NOTE_KEY, anchorers: [anchorKey.address] });
    const gw = await start({ deployment, anchorSigner: anchorKey as unknown as Signer });
    await write(gw);
    const anchored = (await gw.gateway.audit.anchor())!;
    expect(anchored.treeSize).to.equal(1);
    expect(await anchorsOnChain(deployment)).to.deep.equal([{ logId: logIdOf(logOriginOf(deployment)), anchorer: anchorKey.address, treeSize: 1 }]);
    const checkpoint = gw.gateway.audit.latestCheckpoint()!;
    expect(verifyMessage(checkpoint.note, checkpoint.signature)).to.equal(anchorKey.address);
    const config = (await call(gw.url, "/v1/config", null)).body;
    expect([config.gatewayAddress, config.checkpointSigner]).to.deep.equal([deployer.address, anchorKey.address]);

    const keyless = await start({ deployment: await deployLedger(hre, { noteKey: NOTE_KEY }), anchorSigner: null });
    await write(keyless);
    const status = keyless.gateway.audit.anchoring.status;
    expect(!status.ok && status.reason).to.contain("ANCHOR_PRIVATE_KEY");
    expect(await keyless.gateway.audit.anchor()).to.equal(null);
  });

  it("refuses to anchor with a key that does not hold the anchorer role, and says so", async function () {
    const deployment = await deployLedger(hre, { noteKey: NOTE_KEY });
    const gw = await start({ deployment, anchorSigner: anchorKey as unknown as Signer });
    await write(gw);
    const status = gw.gateway.audit.anchoring.status;
    expect(!status.ok && status.reason).to.contain(`${anchorKey.address} does not hold ANCHORER_ROLE`);
    expect(await gw.gateway.audit.anchor()).to.equal(null);
    expect(await anchorsOnChain(deployment)).to.deep.equal([]);
  });
});
