// How the client gets a token: a configured token (or a token file, re-read on every (re)load), AppRole (role id,
// secret id from a file, optionally response-wrapped) or Kubernetes (service-account JWT file, re-read on every
// login). Every secret read here goes straight into a SecretValue; none ever reaches a message or a log.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { VaultAuthConfig } from "../../config/config-types.ts";
import { RotatorError } from "../../core/errors.ts";
import { SecretValue } from "../../core/secret-value.ts";
import { vaultErrorText } from "./vault-errors.ts";
import { parseVaultBody, type VaultRequest, type VaultResponse } from "./vault-request.ts";
import { AuthAnswerSchema, LookupSelfSchema, UnwrapSecretIdSchema } from "./vault-schemas.ts";

export interface AuthGrant {
  readonly token: SecretValue;
  /** Seconds left; 0 means the token never expires (root, or no TTL). */
  readonly ttlSeconds: number;
  readonly renewable: boolean;
  /** The TTL the token was granted with (lookup-self's creation_ttl); a renewal returning less is capped. */
  readonly grantedTtlSeconds: number;
}

export type VaultSend = (req: VaultRequest) => Promise<VaultResponse>;

/** Login and unwrap answers that mean "these credentials are wrong", as opposed to "Vault is down". */
const REJECTED = [400, 401, 403, 404] as const;

async function readCredentialFile(file: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "read error";
    throw new RotatorError("VAULT_AUTH_FAILED", `cannot read the ${what} ${file} (${code})`, {
      context: { file, errorCode: code },
      cause: err,
    });
  }
  const value = text.trim();
  if (value === "") {
    throw new RotatorError("VAULT_AUTH_FAILED", `the ${what} ${file} is empty`, { context: { file } });
  }
  return value;
}

function rejected(what: string, res: VaultResponse, call: { method: string; path: string }): RotatorError {
  const text = vaultErrorText(res.errors) || "no error text";
  return new RotatorError(
    "VAULT_AUTH_FAILED",
    `${what}: ${call.method} ${call.path} → HTTP ${res.status}: ${text}`,
    {
      context: { method: call.method, path: call.path, status: res.status, requestId: res.requestId },
    },
  );
}

function digest(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

export class VaultAuthenticator {
  readonly #config: VaultAuthConfig;
  /** The secret id a wrapping token unwrapped to: the wrapping token is single use, re-logins need this. */
  #unwrappedSecretId: SecretValue | undefined;
  #unwrappedFrom: string | undefined;

  constructor(config: VaultAuthConfig) {
    this.#config = config;
  }

  get method(): VaultAuthConfig["method"] {
    return this.#config.method;
  }

  /** Whether a new token can be had when the current one dies: a login method, or a token file to re-read. */
  get canReauthenticate(): boolean {
    return this.#config.method !== "token" || this.#config.tokenFile !== undefined;
  }

  async authenticate(send: VaultSend): Promise<AuthGrant> {
    const cfg = this.#config;
    switch (cfg.method) {
      case "token":
        return this.#tokenGrant(send, cfg);
      case "approle":
        return this.#appRoleLogin(send, cfg);
      case "kubernetes":
        return this.#kubernetesLogin(send, cfg);
    }
  }

  async #tokenGrant(send: VaultSend, cfg: Extract<VaultAuthConfig, { method: "token" }>): Promise<AuthGrant> {
    const token = cfg.tokenFile
      ? SecretValue.of(await readCredentialFile(cfg.tokenFile, "token file"))
      : cfg.token;
    if (!token) {
      throw new RotatorError(
        "VAULT_AUTH_FAILED",
        "no Vault token: set VAULT_TOKEN/BAO_TOKEN or vault.auth.token_file",
      );
    }
    const call = { method: "GET", path: "auth/token/lookup-self" } as const;
    const res = await send({ ...call, token, accept: REJECTED });
    if (res.status >= 400) {
      throw rejected(
        "the Vault token was rejected (invalid, expired, or lacking the default policy)",
        res,
        call,
      );
    }
    const data = parseVaultBody(LookupSelfSchema, res, call).data;
    return {
      token,
      ttlSeconds: data.ttl,
      renewable: data.renewable ?? false,
      grantedTtlSeconds: Math.max(data.creation_ttl ?? 0, data.ttl),
    };
  }

  async #appRoleLogin(
    send: VaultSend,
    cfg: Extract<VaultAuthConfig, { method: "approle" }>,
  ): Promise<AuthGrant> {
    const roleId =
      cfg.roleId ??
      (cfg.roleIdFile ? await readCredentialFile(cfg.roleIdFile, "AppRole role id file") : undefined);
    if (!roleId)
      throw new RotatorError("VAULT_AUTH_FAILED", "AppRole auth needs a role id or a role id file");
    const secretId = cfg.secretIdWrapped
      ? await this.#unwrapSecretId(send, cfg.secretIdFile)
      : SecretValue.of(await readCredentialFile(cfg.secretIdFile, "AppRole secret id file"));
    const call = { method: "POST", path: `auth/${cfg.mount}/login` } as const;
    const res = await send({
      ...call,
      token: "none",
      body: { role_id: roleId, secret_id: secretId.reveal() },
      accept: REJECTED,
    });
    if (res.status >= 400) throw rejected("AppRole login failed", res, call);
    return grantFrom(res, call);
  }

  /** Unwraps the file's wrapping token once; the same file content later reuses the cached secret id. */
  async #unwrapSecretId(send: VaultSend, file: string): Promise<SecretValue> {
    const wrapping = await readCredentialFile(file, "AppRole wrapped secret id file");
    const fingerprint = digest(wrapping);
    if (this.#unwrappedSecretId && this.#unwrappedFrom === fingerprint) return this.#unwrappedSecretId;
    const call = { method: "POST", path: "sys/wrapping/unwrap" } as const;
    const res = await send({ ...call, token: SecretValue.of(wrapping), accept: REJECTED });
    if (res.status >= 400) {
      throw rejected(
        `cannot unwrap the secret id in ${file} (already unwrapped, expired, or not a wrapping token)`,
        res,
        call,
      );
    }
    const secretId = SecretValue.of(parseVaultBody(UnwrapSecretIdSchema, res, call).data.secret_id);
    this.#unwrappedSecretId = secretId;
    this.#unwrappedFrom = fingerprint;
    return secretId;
  }

  async #kubernetesLogin(
    send: VaultSend,
    cfg: Extract<VaultAuthConfig, { method: "kubernetes" }>,
  ): Promise<AuthGrant> {
    const jwt = SecretValue.of(
      await readCredentialFile(cfg.jwtFile, "Kubernetes service-account token file"),
    );
    const call = { method: "POST", path: `auth/${cfg.mount}/login` } as const;
    const res = await send({
      ...call,
      token: "none",
      body: { role: cfg.role, jwt: jwt.reveal() },
      accept: REJECTED,
    });
    if (res.status >= 400) throw rejected(`Kubernetes login as role ${cfg.role} failed`, res, call);
    return grantFrom(res, call);
  }
}

function grantFrom(res: VaultResponse, call: { method: string; path: string }): AuthGrant {
  const auth = parseVaultBody(AuthAnswerSchema, res, call).auth;
  return {
    token: SecretValue.of(auth.client_token),
    ttlSeconds: auth.lease_duration,
    renewable: auth.renewable,
    grantedTtlSeconds: auth.lease_duration,
  };
}
