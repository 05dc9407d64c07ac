import { Worker, type MessagePort } from "node:worker_threads";

/** `.ts` when running from the TypeScript sources (ts-node), `.js` when compiled. */
export const sourceExtension = __filename.endsWith(".ts") ? ".ts" : ".js";

/** A worker thread on `file`; from TypeScript sources, with ts-node registered in it as in the parent. */
export function startWorker(file: string, workerData: unknown, transferList: readonly (ArrayBuffer | MessagePort)[] = []): Worker {
  if (sourceExtension === ".js") return new Worker(file, { workerData, transferList: [...transferList] });
  const bootstrap = `require(${JSON.stringify(require.resolve("ts-node/register/transpile-only"))}); require(${JSON.stringify(file)});`;
  return new Worker(bootstrap, { eval: true, workerData, transferList: [...transferList] });
}
