import { createServer, type IncomingMessage, type Server } from "node:http";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { Cosigner } from "../../core/checkpoint";
import { SIG_COSIGNATURE_V1, formatSignerKey, parseSignerKey } from "../../core/signedNote";
import { Witness } from "./witness";
import { WitnessStore, writeFileAtomic } from "./witnessStore";

/** A checkpoint with its proof is a few kilobytes; anything far larger is not one. */
const MAX_BODY = 64 * 1024;

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req) {
    length += (chunk as Buffer).length;
    if (length > MAX_BODY) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * The witness's HTTP face: `POST /add-checkpoint` (C2SP tlog-witness), `GET /equivocations` (the
 * split views it was shown, each with both notes) and `GET /` (its name and verifier key).
 */
export function witnessServer(witness: Witness, logger: Logger): Server {
  const server = createServer((req, res) => {
    const send = (status: number, contentType: string, body: string) => {
      res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body) });
      res.end(body);
    };
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "POST" && path === "/add-checkpoint") {
      readBody(req).then(
        (body) => {
          const answer = witness.addCheckpoint(body);
          send(answer.status, answer.contentType, answer.body);
        },
        (error) => {
          if (error instanceof BodyTooLarge) send(413, "text/plain; charset=utf-8", "too-large: the body is over 64 KiB\n");
          else {
            logger.error({ err: error }, "add-checkpoint failed");
            send(500, "text/plain; charset=utf-8", "internal: the witness failed\n");
          }
        },
      );
      return;
    }
    if (req.method === "GET" && path === "/equivocations") return send(200, "application/json", JSON.stringify({ equivocations: witness.equivocations() }));
    if (req.method === "GET" && path === "/") return send(200, "application/json", JSON.stringify({ name: witness.cosigner.name, verifierKey: witness.cosigner.verifierKey }));
    send(404, "text/plain; charset=utf-8", "not-found: POST /add-checkpoint, GET /equivocations\n");
  });
  server.keepAliveTimeout = 65_000;
  return server;
}

/**
 * The witness's key from `file`, made (with `name`) if the file does not exist: a note signer key of
 * the cosignature type, readable by its owner alone.
 */
export function loadOrCreateWitnessKey(file: string, name: string): Cosigner {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileAtomic(file, `${formatSignerKey(name, SIG_COSIGNATURE_V1, randomBytes(32))}\n`, 0o600);
  }
  const parsed = parseSignerKey(readFileSync(file, "utf8").trim(), [SIG_COSIGNATURE_V1]);
  return new Cosigner(parsed.name, parsed.key);
}

export interface WitnessOptions {
  dataDir: string;
  keyFile: string;
  name: string;
  logKeys: string[];
  logger: Logger;
  now?: () => number;
}

/** A witness over its state directory and key, not yet listening. */
export function createWitness(options: WitnessOptions): { witness: Witness; server: Server } {
  const cosigner = loadOrCreateWitnessKey(options.keyFile, options.name);
  const witness = new Witness(new WitnessStore(options.dataDir), cosigner, options.logKeys, options.logger, options.now);
  return { witness, server: witnessServer(witness, options.logger) };
}
