// Tiny HTTP helpers for the simulator tests: real requests over loopback with fetch, nothing mocked.
import type { SalesforceSimulator } from "../../src/simulator/salesforce/salesforce-simulator.ts";

export interface HttpResult {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  // biome-ignore lint/suspicious/noExplicitAny: test helper: assertions read arbitrary JSON
  readonly json: any;
}

async function result(res: Response): Promise<HttpResult> {
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === "" ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, json: parsed };
}

export async function tokenRequest(
  sim: { url: string },
  key: string,
  secret: string,
  extra: Record<string, string> = {},
): Promise<HttpResult> {
  const res = await fetch(`${sim.url}/services/oauth2/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: key,
      client_secret: secret,
      ...extra,
    }),
  });
  return result(res);
}

/** A token for the pair, failing the test when the simulator refuses it. */
export async function login(sim: { url: string }, key: string, secret: string): Promise<string> {
  const res = await tokenRequest(sim, key, secret);
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text}`);
  return res.json.access_token as string;
}

export async function adminLogin(sim: SalesforceSimulator): Promise<string> {
  return login(sim, sim.adminApp.consumerKey, sim.adminApp.consumerSecret);
}

/** A REST call; `path` is relative to the instance URL (as returned URLs are). */
export async function api(
  sim: { url: string },
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<HttpResult> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: "application/json" };
  const init: RequestInit = { method, headers };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  return result(await fetch(`${sim.url}${path}`, init));
}

export const V = "/services/data/v65.0";
