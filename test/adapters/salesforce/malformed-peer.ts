// A deliberately malformed "Salesforce": a tiny node:http server whose answers each test scripts (truncated
// JSON, HTML pages, missing fields, odd states, hanging calls). The token endpoint answers a valid token whose
// instance_url is this server unless a test scripts it too. Every request is recorded.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  SalesforceClient,
  type SalesforceClientOptions,
} from "../../../src/adapters/salesforce/salesforce-client.ts";
import { SecretValue } from "../../../src/core/secret-value.ts";

export interface ScriptedAnswer {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

/** An answer, "hang" (never answer), or "reset" (destroy the socket). */
type Script = ScriptedAnswer | "hang" | "reset";

interface RecordedRequest {
  method: string;
  url: string;
  body: string;
  contentType: string | undefined;
  authorization: string | undefined;
}

export interface MalformedPeer {
  url: string;
  requests: RecordedRequest[];
  /** Scripts "METHOD /path" (path without query; a function sees the full URL). */
  on(route: string, script: Script | ((url: string, body: string) => Script)): void;
  client(extra?: Partial<SalesforceClientOptions>): SalesforceClient;
  close(): Promise<void>;
}

export const json = (status: number, value: unknown): ScriptedAnswer => ({
  status,
  body: JSON.stringify(value),
  headers: { "content-type": "application/json" },
});

export const html = (status: number, text = "<html><body><h1>Error</h1></body></html>"): ScriptedAnswer => ({
  status,
  body: text,
  headers: { "content-type": "text/html" },
});

export async function startMalformedPeer(): Promise<MalformedPeer> {
  const routes = new Map<string, Script | ((url: string, body: string) => Script)>();
  const requests: RecordedRequest[] = [];
  const clients: SalesforceClient[] = [];
  let url = "";
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const full = req.url ?? "/";
      const body = Buffer.concat(chunks).toString("utf8");
      requests.push({
        method: req.method ?? "",
        url: full,
        body,
        contentType: req.headers["content-type"],
        authorization: req.headers.authorization,
      });
      const key = `${req.method} ${full.split("?")[0]}`;
      const found = routes.get(key);
      const script: Script =
        typeof found === "function"
          ? found(full, body)
          : (found ??
            (key === "POST /services/oauth2/token"
              ? json(200, { access_token: "00Dfake!token", instance_url: url, token_type: "Bearer", id: "x" })
              : json(404, [{ errorCode: "NOT_FOUND", message: "nothing scripted" }])));
      if (script === "hang") return;
      if (script === "reset") {
        req.socket.destroy();
        return;
      }
      res.writeHead(script.status, {
        "sforce-limit-info": "api-usage=7/1000",
        ...script.headers,
        "content-length": String(Buffer.byteLength(script.body)),
      });
      res.end(script.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    on: (route, script) => routes.set(route, script),
    client(extra = {}) {
      const c = new SalesforceClient({
        connection: {
          myDomainUrl: url,
          apiVersion: "v65.0",
          auth: "client_credentials",
          jwtUsername: undefined,
          jwtPrivateKeyFile: undefined,
        },
        clientId: "3MVG9admin",
        clientSecret: SecretValue.of("admin-secret"),
        timeoutMs: 2_000,
        sleep: async () => {},
        ...extra,
      });
      clients.push(c);
      return c;
    },
    async close() {
      await Promise.all(clients.map((c) => c.close()));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
