import { DataUseRegistry__factory } from "../../typechain-types";
import { labelToId } from "../../core/ids";
import { startAnvil } from "../../test/helpers/anvil";
import { call, login, removeDir, startTestGateway, synced } from "../../test/helpers/gateway";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * A real reorganisation on anvil removes a grant that a service is being released under: the time
 * from anvil_reorg's answer to the gateway's first 403, while the service keeps asking.
 */
export async function benchReorgToDeny(rounds = 10): Promise<{ reorgToDenyMs: number; reorgToDenyMedianMs: number; rounds: number }> {
  const anvil = await startAnvil();
  const [deployer, subject, service, , operator] = anvil.signers;
  const gw = await startTestGateway({ chain: { provider: anvil.provider, signer: deployer, chainId: 31337 }, operators: [await operator.getAddress()] });
  try {
    const registry = DataUseRegistry__factory.connect(gw.deployment.contracts.DataUseRegistry.address, subject);
    const [serviceToken, operatorToken] = [await login(gw.url, service, gw.gateway.domain), await login(gw.url, operator, gw.gateway.domain)];
    const serviceAddress = await service.getAddress();
    const base = `/v1/subjects/${(await subject.getAddress()).toLowerCase()}/data`;
    const purpose = "dpv:ServiceProvision";
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const category = `bench.reorg.${i}`;
      if ((await call(gw.url, `${base}/${category}`, operatorToken, { method: "PUT", body: { value: { n: i } } })).status !== 201) throw new Error("store failed");
      const receipt = (await (await registry.grant(serviceAddress, labelToId(category), labelToId(purpose), (await anvil.latest()).timestamp + 3600)).wait())!;
      await synced(gw.gateway, anvil.provider);
      const release = () => call(gw.url, `${base}/${category}?purpose=${encodeURIComponent(purpose)}`, serviceToken);
      if ((await release()).status !== 200) throw new Error("release before the reorganisation was refused");
      await anvil.reorg((await anvil.latest()).number - receipt.blockNumber + 1);
      const reorged = performance.now();
      for (;;) {
        const res = await release();
        if (res.status === 403) break;
        if (res.status !== 200 && res.status !== 503) throw new Error(`unexpected ${res.status}`);
        if (performance.now() - reorged > 10_000) throw new Error("no denial within 10 s of the reorganisation");
      }
      times.push(performance.now() - reorged);
    }
    return { reorgToDenyMs: Math.round(Math.max(...times) * 10) / 10, reorgToDenyMedianMs: Math.round(median(times) * 10) / 10, rounds };
  } finally {
    await gw.close();
    removeDir(gw.dataDir);
    await anvil.stop();
  }
}
