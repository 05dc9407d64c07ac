import { expect } from "chai";
import hre, { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deploymentSchema, readDeployment } from "../../core/deployment";
import { logIdOf, logOriginOf } from "../../core/logOrigin";
import { deployLedger } from "../../scripts/lib/deploy";

const ROOT = join(__dirname, "..", "..");

async function defaultDeployment() {
  return deployLedger(hre);
}

async function deploymentWithAnchorers() {
  const [, gateway, backup] = await ethers.getSigners();
  return { deployment: await deployLedger(hre, { anchorers: [gateway.address, backup.address], noteKey: NOTE_KEY }), gateway, backup };
}

const NOTE_KEY = ethers.hexlify(Buffer.alloc(32, 0x5a));

describe("deployLedger", function () {
  it("deploys both contracts and describes them as deploymentSchema requires", async function () {
    const deployment = await loadFixture(defaultDeployment);
    const parsed = deploymentSchema.safeParse(deployment);
    expect(parsed.success, parsed.success ? "" : JSON.stringify(parsed.error.issues)).to.equal(true);

    const [deployer] = await ethers.getSigners();
    expect(deployment.chainId).to.equal(Number((await ethers.provider.getNetwork()).chainId));
    expect(deployment.deployer).to.equal(deployer.address);
    expect(Number.isNaN(Date.parse(deployment.deployedAt))).to.equal(false);

    for (const name of ["DataUseRegistry", "AuditAnchor"] as const) {
      const described = deployment.contracts[name];
      const receipt = (await ethers.provider.getTransactionReceipt(described.transactionHash))!;
      expect(receipt.contractAddress, name).to.equal(described.address);
      expect(receipt.blockNumber, name).to.equal(described.blockNumber);
      expect(existsSync(join(ROOT, described.artifact)), described.artifact).to.equal(true);
      // Same code as compiled, byte for byte, but for the immutables the constructor fills in (EIP-712 caches).
      const artifact = await hre.artifacts.readArtifact(name);
      const buildInfo = (await hre.artifacts.getBuildInfo(`${artifact.sourceName}:${name}`))!;
      const references = buildInfo.output.contracts[artifact.sourceName][name].evm.deployedBytecode.immutableReferences ?? {};
      const masked = (code: string) => {
        const bytes = ethers.getBytes(code);
        for (const ranges of Object.values(references)) for (const { start, length } of ranges) bytes.fill(0, start, start + length);
        return ethers.hexlify(bytes);
      };
      if (name === "DataUseRegistry") expect(Object.keys(references), "EIP-712 immutables").not.to.be.empty;
      expect(masked(await ethers.provider.getCode(described.address)), name).to.equal(masked(artifact.deployedBytecode));
    }
  });

  it("deploys contracts that answer as themselves", async function () {
    const deployment = await loadFixture(defaultDeployment);
    const registry = await ethers.getContractAt("DataUseRegistry", deployment.contracts.DataUseRegistry.address);
    const [, name, , , verifyingContract] = await registry.eip712Domain();
    expect([name, verifyingContract]).to.deep.equal(["DataUseRegistry", deployment.contracts.DataUseRegistry.address]);
    const anchor = await ethers.getContractAt("AuditAnchor", deployment.contracts.AuditAnchor.address);
    expect(await anchor.ANCHORER_ROLE()).to.equal(ethers.id("ANCHORER_ROLE"));
  });

  it("makes the deployer the anchor's admin and, by default, its only anchorer", async function () {
    const deployment = await loadFixture(defaultDeployment);
    const [deployer, other] = await ethers.getSigners();
    const anchor = await ethers.getContractAt("AuditAnchor", deployment.contracts.AuditAnchor.address);
    expect(await anchor.hasRole(await anchor.DEFAULT_ADMIN_ROLE(), deployer.address)).to.equal(true);
    expect(await anchor.hasRole(await anchor.ANCHORER_ROLE(), deployer.address)).to.equal(true);
    expect(await anchor.hasRole(await anchor.ANCHORER_ROLE(), other.address)).to.equal(false);
  });

  it("gives ANCHORER_ROLE to the anchorers given, and only to them", async function () {
    const { deployment, gateway, backup } = await loadFixture(deploymentWithAnchorers);
    const [deployer] = await ethers.getSigners();
    const anchor = await ethers.getContractAt("AuditAnchor", deployment.contracts.AuditAnchor.address);
    const role = await anchor.ANCHORER_ROLE();
    expect(await anchor.hasRole(role, gateway.address)).to.equal(true);
    expect(await anchor.hasRole(role, backup.address)).to.equal(true);
    expect(await anchor.hasRole(role, deployer.address)).to.equal(false);
    expect(await anchor.hasRole(await anchor.DEFAULT_ADMIN_ROLE(), deployer.address)).to.equal(true);
    const logId = logIdOf(logOriginOf(deployment));
    await expect(anchor.connect(gateway).anchor(logId, 1, ethers.id("root-1"))).to.emit(anchor, "CheckpointAnchored");
    await expect(anchor.connect(deployer).anchor(logId, 2, ethers.id("root-2")))
      .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
      .withArgs(deployer.address, role);
  });

  it("registers the gateway's log, named by chain id and anchor address, when given its note key (window 30 s by default)", async function () {
    const { deployment } = await loadFixture(deploymentWithAnchorers);
    const anchor = await ethers.getContractAt("AuditAnchor", deployment.contracts.AuditAnchor.address);
    const origin = `data-use-ledger/${deployment.chainId}/${deployment.contracts.AuditAnchor.address.toLowerCase()}`;
    expect(logOriginOf(deployment)).to.equal(origin);
    const info = await anchor.logInfo(ethers.id(origin));
    expect([info.noteKey, info.maxHeadAgeSeconds]).to.deep.equal([NOTE_KEY, 30n]);
    const [registered] = await anchor.queryFilter(anchor.filters.LogRegistered(ethers.id(origin)));
    expect(registered.args.origin).to.equal(origin);
    expect(Number(info.registeredBlock)).to.equal(registered.blockNumber);

    const other = await deployLedger(hre, { noteKey: NOTE_KEY, maxHeadAgeSeconds: 12 });
    const otherAnchor = await ethers.getContractAt("AuditAnchor", other.contracts.AuditAnchor.address);
    expect((await otherAnchor.logInfo(logIdOf(logOriginOf(other)))).maxHeadAgeSeconds).to.equal(12n);
  });

  it("registers no log without a note key", async function () {
    const deployment = await loadFixture(defaultDeployment);
    const anchor = await ethers.getContractAt("AuditAnchor", deployment.contracts.AuditAnchor.address);
    expect((await anchor.logInfo(logIdOf(logOriginOf(deployment)))).registeredBlock).to.equal(0n);
    expect(await anchor.queryFilter(anchor.filters.LogRegistered())).to.deep.equal([]);
  });

  it("writes a deployment file that readDeployment accepts", async function () {
    const dir = mkdtempSync(join(tmpdir(), "deploy-ledger-"));
    try {
      const outFile = join(dir, "deployments", "31337.json");
      const deployment = await deployLedger(hre, { outFile });
      expect(readDeployment(outFile)).to.deep.equal(deployment);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
