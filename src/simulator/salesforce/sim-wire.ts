// The socket side of the simulator: read a request body, write a reply with Sforce-Limit-Info, close the server.
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { SimReply } from "./sim-http.ts";

const MAX_BODY = 1024 * 1024;

/** The whole body as text, or undefined past 1 MiB (nothing the real API takes is that large). */
export async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export function send(res: ServerResponse, reply: SimReply, limitInfo: string): void {
  const headers: Record<string, string> = { ...(limitInfo ? { "Sforce-Limit-Info": limitInfo } : {}) };
  let payload = "";
  if (reply.body !== undefined && reply.status !== 204) {
    if (typeof reply.body === "string") {
      payload = reply.body;
    } else {
      payload = JSON.stringify(reply.body);
      headers["Content-Type"] = "application/json;charset=UTF-8";
    }
  }
  Object.assign(headers, reply.headers);
  res.writeHead(reply.status, { ...headers, "Content-Length": String(Buffer.byteLength(payload)) });
  res.end(payload);
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
