// Admin helpers for tests: talk to the real server with the root token through plain fetch (deliberately not
// our own client, so a bug there cannot hide itself). Every test works under its own unique prefix or mount.
import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { HOW_TO_GET_VAULT, type VaultTarget } from "./vault-backend.ts";

/** The run's Vault; throws (failing the test, never skipping it) when none could be started. */
export function useVault(): VaultTarget {
  const provided = inject("vault");
  if (!provided.ok) {
    throw new Error(
      `this test needs a real Vault/OpenBao server and none is available: ${provided.error}. ${HOW_TO_GET_VAULT}`,
    );
  }
  const { ok: _ok, ...target } = provided;
  return target;
}

export function uniqueName(stem: string): string {
  return `${stem}-${randomBytes(4).toString("hex")}`;
}

export interface AdminResponse {
  status: number;
  body: unknown;
}

export class VaultAdmin {
  readonly target: VaultTarget;
  readonly token: string;

  constructor(target: VaultTarget, token: string = target.token) {
    this.target = target;
    this.token = token;
  }

  withToken(token: string): VaultAdmin {
    return new VaultAdmin(this.target, token);
  }

  async request(
    method: string,
    apiPath: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<AdminResponse> {
    const res = await fetch(`${this.target.addr}/v1/${apiPath.replace(/^\/+/, "")}`, {
      method,
      headers: {
        "X-Vault-Token": this.token,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // keep the text
    }
    return { status: res.status, body: parsed };
  }

  /** Like request(), but throws on a non-2xx answer, with the server's errors in the message. */
  async must(
    method: string,
    apiPath: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<unknown> {
    const res = await this.request(method, apiPath, body, headers);
    if (res.status >= 300) {
      throw new Error(`${method} ${apiPath} → HTTP ${res.status}: ${JSON.stringify(res.body)}`);
    }
    return res.body;
  }

  async mountKv(mount: string, version: 1 | 2 = 2): Promise<void> {
    await this.must("POST", `sys/mounts/${mount}`, { type: "kv", options: { version: String(version) } });
    if (version === 1) return;
    // A new KV v2 mount first "upgrades from non-versioned data" and answers 400 to every data call meanwhile
    // (seconds on a fresh raft server): wait until a read of a missing key is an ordinary 404.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const probe = await this.request("GET", `${mount}/data/eca-rotator-mount-ready-probe`);
      if (probe.status === 404 || probe.status === 200) return;
      if (Date.now() > deadline) throw new Error(`KV v2 mount ${mount} not ready: HTTP ${probe.status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async writePolicy(name: string, hcl: string): Promise<void> {
    await this.must("PUT", `sys/policies/acl/${name}`, { policy: hcl });
  }

  async createToken(opts: {
    policies: string[];
    ttl?: string;
    noDefaultPolicy?: boolean;
    renewable?: boolean;
    explicitMaxTtl?: string;
  }): Promise<string> {
    const body = (await this.must("POST", "auth/token/create", {
      policies: opts.policies,
      ttl: opts.ttl ?? "1h",
      no_default_policy: opts.noDefaultPolicy ?? false,
      renewable: opts.renewable ?? true,
      ...(opts.explicitMaxTtl ? { explicit_max_ttl: opts.explicitMaxTtl } : {}),
    })) as { auth: { client_token: string } };
    return body.auth.client_token;
  }

  async enableAuth(type: string, mountPath: string = type): Promise<void> {
    const res = await this.request("POST", `sys/auth/${mountPath}`, { type });
    // 400 "path is already in use" is fine: tests share one server.
    if (res.status >= 300 && !JSON.stringify(res.body).includes("already in use")) {
      throw new Error(
        `enable auth ${type} at ${mountPath} → HTTP ${res.status}: ${JSON.stringify(res.body)}`,
      );
    }
  }

  /** Creates an AppRole role and returns its role id and a fresh secret id. */
  async createAppRole(
    role: string,
    opts: { policies: string[]; tokenTtl?: string; tokenMaxTtl?: string; mount?: string },
  ): Promise<{ roleId: string; secretId: string }> {
    const mount = opts.mount ?? "approle";
    await this.enableAuth("approle", mount);
    await this.must("POST", `auth/${mount}/role/${role}`, {
      token_policies: opts.policies,
      token_ttl: opts.tokenTtl ?? "1h",
      token_max_ttl: opts.tokenMaxTtl ?? "4h",
    });
    const roleIdBody = (await this.must("GET", `auth/${mount}/role/${role}/role-id`)) as {
      data: { role_id: string };
    };
    return { roleId: roleIdBody.data.role_id, secretId: await this.newSecretId(role, mount) };
  }

  async newSecretId(role: string, mount = "approle"): Promise<string> {
    const body = (await this.must("POST", `auth/${mount}/role/${role}/secret-id`, {})) as {
      data: { secret_id: string };
    };
    return body.data.secret_id;
  }

  /** A response-wrapped secret id: the single-use wrapping token that unwraps to a secret id. */
  async newWrappedSecretId(role: string, mount = "approle", wrapTtl = "120s"): Promise<string> {
    const body = (await this.must(
      "POST",
      `auth/${mount}/role/${role}/secret-id`,
      {},
      { "X-Vault-Wrap-TTL": wrapTtl },
    )) as {
      wrap_info: { token: string };
    };
    return body.wrap_info.token;
  }

  /** Writes one KV v2 entry (a new version) and, when given, replaces its custom_metadata. */
  async seedKv(
    mount: string,
    kvPath: string,
    data: Record<string, unknown>,
    customMetadata?: Record<string, string>,
  ): Promise<void> {
    await this.must("POST", `${mount}/data/${kvPath}`, { data });
    if (customMetadata) {
      await this.must("POST", `${mount}/metadata/${kvPath}`, { custom_metadata: customMetadata });
    }
  }

  async readMetadata(
    mount: string,
    kvPath: string,
  ): Promise<{ custom_metadata: Record<string, string> | null; current_version: number }> {
    const body = (await this.must("GET", `${mount}/metadata/${kvPath}`)) as {
      data: { custom_metadata: Record<string, string> | null; current_version: number };
    };
    return body.data;
  }

  async readData(mount: string, kvPath: string, version?: number): Promise<Record<string, unknown>> {
    const q = version === undefined ? "" : `?version=${version}`;
    const body = (await this.must("GET", `${mount}/data/${kvPath}${q}`)) as {
      data: { data: Record<string, unknown> };
    };
    return body.data.data;
  }
}

export function admin(): VaultAdmin {
  return new VaultAdmin(useVault());
}
