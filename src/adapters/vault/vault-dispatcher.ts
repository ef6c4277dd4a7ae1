// The undici Agent the client uses when none is injected: timeouts on every phase (undici's defaults are 300 s)
// and TLS from VAULT_CACERT / VAULT_CAPATH / client certificate / server name / skip-verify.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { Agent } from "undici";
import type { VaultTlsConfig } from "../../config/config-types.ts";
import { RotatorError } from "../../core/errors.ts";
import { buildTimeoutAgent } from "../http/timeout-agent.ts";

async function readTlsFile(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "read error";
    throw new RotatorError("VAULT_TLS", `cannot read the ${what} ${file} (${code})`, {
      context: { file, errorCode: code },
      cause: err,
    });
  }
}

/** Every PEM/CRT file in a folder, like VAULT_CAPATH. */
async function readCaDir(dir: string): Promise<Buffer[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "read error";
    throw new RotatorError("VAULT_TLS", `cannot read the CA folder ${dir} (${code})`, {
      context: { file: dir, errorCode: code },
      cause: err,
    });
  }
  const pems = names.filter((n) => /\.(pem|crt)$/i.test(n)).sort();
  return Promise.all(pems.map((n) => readTlsFile(path.join(dir, n), "CA certificate")));
}

export async function buildVaultDispatcher(
  tls: VaultTlsConfig | undefined,
  timeoutMs: number,
): Promise<Agent> {
  const ca: Buffer[] = [];
  if (tls?.caCertFile) ca.push(await readTlsFile(tls.caCertFile, "CA certificate file"));
  if (tls?.caPath) ca.push(...(await readCaDir(tls.caPath)));
  if ((tls?.clientCertFile === undefined) !== (tls?.clientKeyFile === undefined)) {
    throw new RotatorError("VAULT_TLS", "a client certificate needs both a certificate file and a key file");
  }
  const cert = tls?.clientCertFile
    ? await readTlsFile(tls.clientCertFile, "client certificate file")
    : undefined;
  const key = tls?.clientKeyFile ? await readTlsFile(tls.clientKeyFile, "client key file") : undefined;
  return buildTimeoutAgent(timeoutMs, {
    rejectUnauthorized: !(tls?.skipVerify ?? false),
    ca,
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(tls?.serverName ? { servername: tls.serverName } : {}),
  });
}
