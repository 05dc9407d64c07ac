import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from "node:worker_threads";
import { SqliteStore } from "../store/sqlite";
import { openItems } from "./logItems";
import { fromWire, type LogWriterReply, type LogWriterRequest } from "./logWriter";

/**
 * The access log's writer thread: its own connection to the gateway's database, committing with
 * SQLite's own sync (synchronous = FULL), so an entry is on disk when its commit returns. The thread
 * blocks in that sync; the batches handed over meanwhile wait in the port, and the next round takes
 * all of them into one transaction and one sync (group commit). A sync costs the machine about as
 * much CPU whatever it carries, so under load the thread syncs once per round, not once per batch.
 * The values of the releases are opened here, just before their entries are written (openItems).
 */
const port = parentPort!;
const { databasePath, payloadKey, replies } = workerData as { databasePath: string; payloadKey: Uint8Array; replies: MessagePort };
const store = new SqliteStore(databasePath);

type Append = Extract<LogWriterRequest, { type: "append" }>;

port.on("message", (first: LogWriterRequest) => {
  const requests = [first];
  for (let next = receiveMessageOnPort(port); next; next = receiveMessageOnPort(port)) requests.push(next.message as LogWriterRequest);
  const appends = requests.filter((r): r is Append => r.type === "append");
  if (appends.length > 0) replies.postMessage(commit(appends));
  // The port keeps the order: every batch handed over before "close" was committed and answered above.
  if (requests.some((r) => r.type === "close")) {
    replies.postMessage({ type: "closed" } satisfies LogWriterReply);
    store.close();
    replies.close();
    port.close();
  }
});

/**
 * One transaction for every batch of the round; each batch's entries stay together, in the order
 * given. After an I/O error the store refuses every later append, so every later round fails too.
 */
function commit(appends: Append[]): LogWriterReply {
  let opened: ReturnType<typeof openItems>[];
  let indexes: number[];
  try {
    opened = appends.map((a) => openItems(payloadKey, a.items.map(fromWire)));
    const entries = opened.flatMap((o) => o.entries);
    indexes = entries.length > 0 ? store.appendLog(entries) : [];
  } catch (error) {
    return { type: "failed", ids: appends.map((a) => a.id), error: error instanceof Error ? error.message : String(error) };
  }
  let at = 0;
  const results = appends.map(({ id }, i) => ({ id, outcomes: opened[i].outcomes(indexes.slice(at, (at += opened[i].entries.length))) }));
  return { type: "appended", results };
}
