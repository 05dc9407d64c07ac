import { expect } from "chai";
import type { Signer } from "ethers";
import { DataUseRegistry__factory } from "../../typechain-types";
import { labelToId } from "../../core/ids";
import { readChainHistory } from "../../auditor/history";
import { verifyLog } from "../../auditor/verify";
import { startAnvil, type Anvil } from "../helpers/anvil";
import { call, login, removeDir, startTestGateway, synced, type TestGateway } from "../helpers/gateway";

describe("audit verify after a real reorganisation (anvil_reorg)", function () {
  let anvil: Anvil;
  let gw: TestGateway;

  before(async function () {
    anvil = await startAnvil();
    const [deployer] = anvil.signers;
    gw = await startTestGateway({ chain: { provider: anvil.provider, signer: deployer, chainId: 31337 }, operators: [await anvil.signers[4].getAddress()] });
  });
  after(async function () {
    await gw?.close();
    if (gw) removeDir(gw.dataDir);
    await anvil?.stop();
  });

  it("reports a release under a grant the reorganisation removed as a finding with its deletion order, not a release without a grant", async function () {
    const [, subject, service, , operator] = anvil.signers as Signer[];
    const subjectAddress = (await subject.getAddress()).toLowerCase();
    const category = "reorg.audit.email";
    const purpose = "dpv:ServiceProvision";
    const [serviceToken, operatorToken] = [await login(gw.url, service, gw.gateway.domain), await login(gw.url, operator, gw.gateway.domain)];
    expect((await call(gw.url, `/v1/subjects/${subjectAddress}/data/${category}`, operatorToken, { method: "PUT", body: { value: "a@example.org" } })).status).to.equal(201);
    const registry = DataUseRegistry__factory.connect(gw.deployment.contracts.DataUseRegistry.address, subject);
    const receipt = (await (await registry.grant(await service.getAddress(), labelToId(category), labelToId(purpose), (await anvil.latest()).timestamp + 3600)).wait())!;
    await synced(gw.gateway, anvil.provider);
    const released = await call(gw.url, `/v1/subjects/${subjectAddress}/data/${category}?purpose=${purpose}`, serviceToken);
    expect(released.status).to.equal(200);

    await anvil.reorg((await anvil.latest()).number - receipt.blockNumber + 1);
    await synced(gw.gateway, anvil.provider);
    gw.gateway.deletion.runDue();

    const entries = gw.gateway.store.readLog(0, gw.gateway.store.logSize());
    const history = await readChainHistory(anvil.provider, gw.deployment);
    const report = await verifyLog({ entries, checkpoints: [], history, graceSeconds: 0 });
    const index = released.body.auditIndex as number;
    expect(report.violations.filter((v) => v.index === index)).to.deep.equal([]);
    const finding = report.findings.find((f) => f.index === index)!;
    expect(finding.rule).to.equal("release-under-reorged-grant");
    expect(finding.forkHash).to.equal((entries[index].detail as { headHash: string }).headHash);
    expect(finding.canonicalHash).to.not.equal(finding.forkHash);
    expect(entries[finding.deletionOrder!]).to.deep.include({ kind: "deletion-order", grantee: (await service.getAddress()).toLowerCase() });
  });
});
