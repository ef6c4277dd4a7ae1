// The demo's consumers of the readers sample: two applications reading their credential from KV with tokens of
// their own, limited by the shipped consumer policy (policies/consumer.hcl, pointed at the demo's folder).
// crm-sync logs in with AppRole (an identity entity) and polls every second, so it moves to a new pair at once;
// nightly-reporting, a batch job holding a plain token, reads when a run starts: once now, and again when the
// demo starts its next run. Vault's audit log records each read with the version it returned, which is all the
// rotator's reader feed goes by.
import { readFileSync } from "node:fs";
import path from "node:path";

const POLICY = path.resolve(import.meta.dirname, "../../policies/consumer.hcl");
const CRM_SYNC_EVERY_MS = 1_000;

export interface DemoConsumers {
  /** nightly-reporting's next run: it reads its credential once more. */
  runNightly(): Promise<void>;
  stop(): void;
}

/**
 * Makes the consumers on the dev server at `addr` (root `token`), each reads `credPath` once (in the KV v2
 * `mount`; `folder` is what the consumer policy grants), then crm-sync keeps polling. `say` narrates a read
 * when the version a consumer got changes.
 */
export async function startDemoConsumers(o: {
  readonly addr: string;
  readonly token: string;
  readonly mount: string;
  readonly folder: string;
  readonly credPath: string;
  readonly say: (line: string) => void;
}): Promise<DemoConsumers> {
  const call = async (method: string, p: string, token: string, body?: unknown) => {
    const res = await fetch(`${o.addr}/v1/${p}`, {
      method,
      headers: {
        "X-Vault-Token": token,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${p}: HTTP ${res.status}`);
    return text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
  };
  const policy = readFileSync(POLICY, "utf8").replaceAll(
    "secret/data/api-credentials/payments/*",
    `${o.mount}/data/${o.folder}/*`,
  );
  await call("PUT", "sys/policies/acl/demo-consumer", o.token, { policy });
  await call("POST", "sys/auth/approle", o.token, { type: "approle" });
  await call("POST", "auth/approle/role/crm-sync", o.token, { token_policies: ["demo-consumer"] });
  const roleId = (
    (await call("GET", "auth/approle/role/crm-sync/role-id", o.token)) as { data: { role_id: string } }
  ).data.role_id;
  const secretId = (
    (await call("POST", "auth/approle/role/crm-sync/secret-id", o.token, {})) as {
      data: { secret_id: string };
    }
  ).data.secret_id;
  const crmSync = (
    (await call("POST", "auth/approle/login", "", { role_id: roleId, secret_id: secretId })) as {
      auth: { client_token: string };
    }
  ).auth.client_token;
  const nightly = (
    (await call("POST", "auth/token/create", o.token, {
      policies: ["demo-consumer"],
      display_name: "nightly-reporting",
      ttl: "1h",
    })) as { auth: { client_token: string } }
  ).auth.client_token;

  const last = new Map<string, number>();
  const read = async (who: string, token: string) => {
    const body = (await call("GET", `${o.mount}/data/${o.credPath}`, token)) as {
      data: { metadata: { version: number } };
    };
    const version = body.data.metadata.version;
    if (last.get(who) !== version) {
      const what = last.has(who) ? "the new pair" : "the pair it runs with";
      o.say(`👤 ${who} read ${o.credPath} v${version}, ${what}`);
    }
    last.set(who, version);
  };
  await read("crm-sync", crmSync);
  await read("nightly-reporting", nightly);
  let stopped = false;
  const timer = setInterval(() => {
    if (!stopped) read("crm-sync", crmSync).catch(() => {});
  }, CRM_SYNC_EVERY_MS);
  return {
    runNightly: () => (stopped ? Promise.resolve() : read("nightly-reporting", nightly)),
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
