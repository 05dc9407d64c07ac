import hre from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { DataUseRegistry__factory, type DataUseRegistry } from "../../typechain-types";
import { login, startTestGateway, type TestGateway } from "./gateway";

export interface Parties {
  gw: TestGateway;
  /** The registry, connected as the subject. */
  registry: DataUseRegistry;
  subject: HardhatEthersSigner;
  service: HardhatEthersSigner;
  operator: HardhatEthersSigner;
  /** Session tokens of the subject, the service and the operator. */
  tokens: Record<"subject" | "service" | "operator", string>;
}

/** A test gateway with Hardhat accounts 1, 2 and 4 as subject, service and operator, each signed in. */
export async function gatewayWithParties(env: Record<string, string> = {}): Promise<Parties> {
  const [, subject, service, , operator] = await hre.ethers.getSigners();
  const gw = await startTestGateway({ operators: [operator.address], env });
  return {
    gw,
    registry: DataUseRegistry__factory.connect(gw.deployment.contracts.DataUseRegistry.address, subject),
    subject,
    service,
    operator,
    tokens: {
      subject: await login(gw.url, subject, gw.gateway.domain),
      service: await login(gw.url, service, gw.gateway.domain),
      operator: await login(gw.url, operator, gw.gateway.domain),
    },
  };
}
