import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import { FetchRequest, JsonRpcProvider, makeError, type FetchGetUrlFunc, type GetUrlResponse, type JsonRpcApiProviderOptions, type JsonRpcPayload, type JsonRpcResult, type Networkish } from "ethers";

const decoders: Record<string, (body: Buffer) => Buffer> = { gzip: gunzipSync, "x-gzip": gunzipSync, deflate: inflateSync, br: brotliDecompressSync };

/** A provider's connection pools; `closed` once it shuts down, so that nothing is sent again. */
export interface Agents {
  http: HttpAgent;
  https: HttpsAgent;
  closed?: boolean;
}

/**
 * Sends ethers' HTTP requests through node:http over kept-alive connections. Two transports were
 * measured and left: ethers 6's own copies the whole body it has received on every chunk
 * (quadratic; ethers-io/ethers.js#5184: one 7 MB page of logs took 12 s to read instead of 0.3 s),
 * and Node 20's fetch spends about 2 ms of CPU on each request, where the indexer polls the head
 * 20 times a second while the gateway serves releases. Redirects are not followed: ethers decides.
 */
export function httpGetUrl(agents: Agents): FetchGetUrlFunc {
  return (request, cancel) =>
    new Promise((resolve, reject) => {
      const url = new URL(request.url);
      const secure = url.protocol === "https:";
      const body = request.body ? Buffer.from(request.body) : null;
      const headers: Record<string, string | number> = { ...request.headers };
      if (body) headers["content-length"] = body.length;
      // A transaction is not sent twice: the node may have taken it before the connection dropped.
      const mayResend = body === null || !body.includes("eth_send");
      let settled = false;
      let current: ClientRequest | null = null;
      let timer: NodeJS.Timeout | null = null;
      const finish = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        outcome();
      };
      const fail = (error: Error) =>
        finish(() => {
          current?.destroy();
          reject(error);
        });
      const send = (retry: boolean) => {
        const req = (secure ? httpsRequest : httpRequest)(url, { method: request.method, headers, agent: secure ? agents.https : agents.http }, (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", fail);
          res.on("end", () => {
            try {
              const answer = toResponse(res, Buffer.concat(chunks));
              finish(() => resolve(answer));
            } catch (error) {
              fail(error as Error);
            }
          });
        });
        current = req;
        req.on("error", (error: NodeJS.ErrnoException) => {
          // Destroyed here (timeout, cancel), or the provider is shutting down: nothing to resend.
          if (settled || agents.closed) return fail(error);
          // A kept-alive connection the node closed while idle fails before it carries anything:
          // the request goes once more on a new connection.
          if (retry && mayResend && req.reusedSocket && (error.code === "ECONNRESET" || error.code === "EPIPE")) return send(false);
          fail(error);
        });
        req.end(body ?? undefined);
      };
      try {
        send(true);
      } catch (error) {
        return fail(error as Error);
      }
      if (request.timeout > 0) timer = setTimeout(() => fail(makeError("request timeout", "TIMEOUT")), request.timeout);
      cancel?.addListener(() => fail(makeError("request cancelled", "CANCELLED")));
    });
}

function toResponse(res: IncomingMessage, received: Buffer): GetUrlResponse {
  const encoding = res.headers["content-encoding"]?.trim().toLowerCase();
  if (encoding && encoding !== "identity") {
    const decode = decoders[encoding];
    if (!decode) throw makeError(`unsupported content-encoding ${encoding}`, "SERVER_ERROR");
    received = decode(received);
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  // The body is decoded here: ethers must not try again.
  delete headers["content-encoding"];
  return { statusCode: res.statusCode ?? 0, statusMessage: res.statusMessage ?? "", headers, body: received.length > 0 ? new Uint8Array(received) : null };
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A JSON-RPC provider over HTTP(S) for large responses: the transport above, and bodies decoded by
 * the native UTF-8 decoder (strict, as ethers' is), where ethers' `bodyJson` decodes UTF-8 in
 * JavaScript (0.6 s for a 6 MB page of logs). Retries, throttling and timeouts stay ethers' own.
 *
 * Unless the caller says otherwise:
 * - each request goes alone (`batchMaxCount: 1`): batched, a page of logs read ahead travelled with
 *   the page being waited for, and the indexer waited for both;
 * - nothing is answered from cache (`cacheTimeout: -1`): ethers reuses an answer for 250 ms, so the
 *   indexer's poll of the latest block saw a revocation up to 250 ms late.
 */
export class HttpRpcProvider extends JsonRpcProvider {
  constructor(url: string, network?: Networkish, options?: JsonRpcApiProviderOptions) {
    // Credentials travel as a Basic authorization header: the URL ethers keeps, and quotes in its errors, holds none.
    const parsed = new URL(url);
    const credentials = parsed.username || parsed.password ? `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}` : null;
    parsed.username = "";
    parsed.password = "";
    const request = new FetchRequest(credentials ? parsed.toString() : url);
    if (credentials) request.setHeader("authorization", `Basic ${Buffer.from(credentials, "utf8").toString("base64")}`);
    const agents: Agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
    request.getUrlFunc = httpGetUrl(agents);
    super(request, network, { batchMaxCount: 1, cacheTimeout: -1, ...options });
    this.agents = agents;
  }

  private readonly agents: Agents;

  override destroy(): void {
    this.agents.closed = true;
    super.destroy();
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    const request = this._getConnection();
    request.body = JSON.stringify(payload);
    request.setHeader("content-type", "application/json");
    const response = await request.send();
    response.assertOk();
    const body = response.body;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body ? utf8.decode(body) : "");
    } catch (error) {
      throw makeError("the JSON-RPC response is not JSON", "SERVER_ERROR", { request, response, error: error as Error });
    }
    return (Array.isArray(parsed) ? parsed : [parsed]) as JsonRpcResult[];
  }
}
