import { parentPort, workerData } from "node:worker_threads";
import { SqliteStore } from "../store/sqlite";
import type { LogWriterReply, LogWriterRequest } from "./logWriter";

/**
 * The access log's writer thread: its own connection to the gateway's database, on which each batch
 * the event loop hands over is committed and synced (store.appendLogDurably). Batches that arrive
 * while a sync runs are committed at once and share the next sync.
 */
const port = parentPort!;
const store = new SqliteStore((workerData as { databasePath: string }).databasePath);

/** Batches committed whose answer has not been sent yet. */
const answering = new Set<Promise<void>>();

port.on("message", (request: LogWriterRequest) => {
  if (request.type === "close") {
    // Every batch before this message has been committed: answer each once it is on disk, say so,
    // then let go of the file. The port keeps the order, so "closed" comes after every answer.
    void Promise.allSettled([...answering]).then(() => {
      port.postMessage({ type: "closed" } satisfies LogWriterReply);
      store.close();
      port.close();
    });
    return;
  }
  let committed: Promise<number[]>;
  try {
    committed = store.appendLogDurably(request.entries);
  } catch (error) {
    committed = Promise.reject(error);
  }
  const answered = committed.then(
    (indexes) => port.postMessage({ id: request.id, indexes } satisfies LogWriterReply),
    (error: unknown) => port.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) } satisfies LogWriterReply),
  );
  answering.add(answered);
  void answered.finally(() => answering.delete(answered));
});
