import hre from "hardhat";
import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { Wallet } from "ethers";
import { DataUseRegistry__factory } from "../../typechain-types";
import { labelToId } from "../../core/ids";
import { checkpointNote } from "../../core/auditEntry";
import { checkReleaseProof, verifyReleaseInclusion, type CheckpointTrust, type ReceivedRelease, type ReleaseProof } from "../../auditor/releaseInclusion";
import { call, login, removeDir, startTestGateway, synced, type TestGateway } from "../helpers/gateway";

describe("a service checks in one call that its release is in a signed checkpoint", function () {
  let gw: TestGateway;
  let subject: HardhatEthersSigner;
  let service: HardhatEthersSigner;
  let other: HardhatEthersSigner;
  let operator: HardhatEthersSigner;
  let tokens: Record<string, string>;
  let trust: CheckpointTrust;
  const purpose = "dpv:ServiceProvision";
  const category = "incl.email";
  let counter = 0;
  const path = () => `/v1/subjects/${subject.address.toLowerCase()}/data/${category}?purpose=${purpose}`;

  /** A release as the service receives it, having sent its own unique request id. */
  async function released(token = tokens.service): Promise<ReceivedRelease> {
    const requestId = `svc-${++counter}`;
    const res = await fetch(`${gw.url}${path()}`, { headers: { authorization: `Bearer ${token}`, "x-request-id": requestId } });
    expect(res.status).to.equal(200);
    const body = (await res.json()) as ReceivedRelease & { grant: { grantId: string; blockNumber: number } };
    return { subject: body.subject, category: body.category, purpose: body.purpose, auditIndex: body.auditIndex, requestId, grant: { grantId: body.grant.grantId, blockNumber: body.grant.blockNumber } };
  }
  const check = (received: ReceivedRelease, who = service, token = tokens.service) => verifyReleaseInclusion(gw.url, token, who.address, received, trust);

  before(async function () {
    [, subject, service, other, operator] = await hre.ethers.getSigners();
    gw = await startTestGateway({ operators: [operator.address], env: { CHECKPOINT_INTERVAL_MS: "100000", ANCHOR_INTERVAL_MS: "100000" } });
    tokens = { service: await login(gw.url, service, gw.gateway.domain), other: await login(gw.url, other, gw.gateway.domain), operator: await login(gw.url, operator, gw.gateway.domain) };
    trust = { signers: [gw.deployment.deployer] };
    expect((await call(gw.url, `/v1/subjects/${subject.address.toLowerCase()}/data/${category}`, tokens.operator, { method: "PUT", body: { value: "a@example.org" } })).status).to.equal(201);
    const registry = DataUseRegistry__factory.connect(gw.deployment.contracts.DataUseRegistry.address, subject);
    for (const grantee of [service, other]) await (await registry.grant(grantee.address, labelToId(category), labelToId(purpose), (await time.latest()) + 3600)).wait();
    await synced(gw.gateway);
  });
  after(async function () {
    await gw.close();
    removeDir(gw.dataDir);
  });

  it("finds an honest release in the next signed checkpoint: pending before it, included after", async function () {
    const received = await released();
    const before = await check(received);
    expect(before.status).to.equal("pending");
    const res = await call(gw.url, `/v1/audit/releases/${received.auditIndex}/proof`, tokens.service);
    expect(res.status).to.equal(409);
    expect(res.body.error.code).to.equal("NOT_YET_CHECKPOINTED");

    await gw.gateway.audit.checkpoint();
    const after = await check(received);
    expect(after.problems).to.deep.equal([]);
    expect(after.status).to.equal("included");
    expect(after.proof!.checkpoint.treeSize).to.be.greaterThan(received.auditIndex);
  });

  it("catches a release the gateway answered but never logged", async function () {
    // The gateway answers with an index it did not log this release at: another service's release,
    // an earlier release of this service, a write, or an entry that does not exist.
    const othersRelease = await released(tokens.other);
    const mine = await released();
    await gw.gateway.audit.checkpoint();
    const write = (await call(gw.url, `/v1/subjects/${subject.address.toLowerCase()}/data/${category}`, tokens.operator, { method: "PUT", body: { value: "b@example.org" } })).body.auditIndex as number;
    await gw.gateway.audit.checkpoint();
    const answeredButNotLogged = { ...mine, requestId: "svc-never-logged" };
    for (const auditIndex of [othersRelease.auditIndex, write, gw.gateway.store.logSize() + 5]) {
      const result = await check({ ...answeredButNotLogged, auditIndex });
      expect(result.status, `index ${auditIndex}`).to.equal("refuted");
      expect(result.problems.join()).to.contain(`no release to ${service.address.toLowerCase()} at entry ${auditIndex}`);
    }
    // The index of an earlier release to the same service, subject and category: its request id differs.
    const replayed = await check({ ...answeredButNotLogged, auditIndex: mine.auditIndex });
    expect(replayed.status).to.equal("refuted");
    expect(replayed.problems).to.deep.equal([`the entry's requestId is "${mine.requestId}", not "svc-never-logged"`]);
  });

  it("answers only the service the release went to", async function () {
    const mine = await released();
    await gw.gateway.audit.checkpoint();
    const res = await call(gw.url, `/v1/audit/releases/${mine.auditIndex}/proof`, tokens.other);
    expect(res.status).to.equal(403);
    expect(res.body.error.code).to.equal("FORBIDDEN");
    expect((await call(gw.url, `/v1/audit/releases/${mine.auditIndex}/proof`, null)).status).to.equal(401);
    expect((await call(gw.url, `/v1/audit/releases/-1/proof`, tokens.service)).body.error.code).to.equal("INVALID_INPUT");
  });

  describe("a tampered answer", function () {
    let received: ReceivedRelease;
    let honest: ReleaseProof;
    before(async function () {
      received = await released();
      await gw.gateway.audit.checkpoint();
      honest = (await call(gw.url, `/v1/audit/releases/${received.auditIndex}/proof`, tokens.service)).body as ReleaseProof;
      expect((await checkReleaseProof(honest, received, service.address, trust)).status).to.equal("included");
    });
    const refuted = async (answer: ReleaseProof) => {
      const result = await checkReleaseProof(answer, received, service.address, trust);
      expect(result.status).to.equal("refuted");
      return result.problems;
    };

    it("catches an entry altered after it was logged (its leaf is not in the signed tree)", async function () {
      // A field the service cannot compare itself: only the proof catches it.
      const problems = await refuted({ ...honest, entry: { ...honest.entry, payloadHash: "0x" + "00".repeat(32) } });
      expect(problems).to.have.length(1);
      expect(problems[0]).to.contain("is not in the tree of size");
    });

    it("catches an entry that logs the release as another purpose, or to another service", async function () {
      expect(await refuted({ ...honest, entry: { ...honest.entry, purpose: "dpv:Marketing" } })).to.include('the entry\'s purpose is "dpv:Marketing", not "dpv:ServiceProvision"');
      const problems = await refuted({ ...honest, entry: { ...honest.entry, actor: other.address.toLowerCase() } });
      expect(problems[0]).to.contain("the entry's actor is");
    });

    it("catches a proof against a root no trusted key signed", async function () {
      const forger = Wallet.createRandom();
      const note = checkpointNote(honest.checkpoint.origin, honest.checkpoint.treeSize, honest.checkpoint.rootHash);
      const resigned = { ...honest.checkpoint, signature: await forger.signMessage(note) };
      expect(await refuted({ ...honest, checkpoint: resigned })).to.deep.equal([`the checkpoint is signed by ${forger.address.toLowerCase()}, not a signer the service trusts`]);
      const otherRoot = { ...honest.checkpoint, rootHash: "0x" + "11".repeat(32) };
      expect((await refuted({ ...honest, checkpoint: otherRoot })).length).to.equal(2);
      expect(await refuted({ ...honest, proof: { ...honest.proof, proof: honest.proof.proof.slice(1) } })).to.have.length(1);
    });
  });
});
