// Starts (or finds) the real Vault-compatible server the test run uses. Chosen by ECA_TEST_VAULT:
//   bao      (default) spawn `bao server -dev` (or `vault server -dev`) on a free loopback port
//   docker   testcontainers with the hashicorp/vault image, for machines that have a Docker engine
//   external use VAULT_ADDR / VAULT_TOKEN as given (a root-capable token: tests create mounts and policies)
import { findServerBinary, startDevServer, waitForHealthy } from "../../src/demo/dev-vault-server.ts";

export { findServerBinary, freePort, stopProcess, waitForHealthy } from "../../src/demo/dev-vault-server.ts";

type VaultBackendName = "bao" | "docker" | "external";

export interface VaultTarget {
  readonly addr: string;
  readonly token: string;
  readonly backend: VaultBackendName;
  /** The server binary, when the backend runs one locally (tests that start their own servers use it). */
  readonly binary: string | undefined;
}

export interface RunningVault {
  readonly target: VaultTarget;
  stop(): Promise<void>;
}

export const HOW_TO_GET_VAULT =
  "run the tests with ./test.sh (it installs the bao binary), put `bao` or `vault` on PATH, " +
  "set ECA_TEST_VAULT=docker with a Docker engine, or ECA_TEST_VAULT=external with VAULT_ADDR and VAULT_TOKEN";

async function startDocker(token: string): Promise<RunningVault> {
  // Loaded lazily so machines without Docker never touch dockerode.
  const { VaultContainer } = await import("@testcontainers/vault");
  const image = process.env["ECA_TEST_VAULT_IMAGE"] ?? "hashicorp/vault:1.20";
  const container = await new VaultContainer(image).withVaultToken(token).start();
  return {
    target: { addr: container.getAddress(), token, backend: "docker", binary: undefined },
    stop: async () => {
      await container.stop();
    },
  };
}

export async function startVaultBackend(env: NodeJS.ProcessEnv = process.env): Promise<RunningVault> {
  const backend = (env["ECA_TEST_VAULT"] ?? "bao") as VaultBackendName;
  const token = "eca-test-root-token";
  switch (backend) {
    case "external": {
      const addr = env["VAULT_ADDR"] ?? env["BAO_ADDR"];
      const extToken = env["VAULT_TOKEN"] ?? env["BAO_TOKEN"];
      if (!addr || !extToken) throw new Error("ECA_TEST_VAULT=external needs VAULT_ADDR and VAULT_TOKEN");
      await waitForHealthy(addr, 10_000);
      return {
        target: { addr, token: extToken, backend, binary: findServerBinary(env) },
        stop: async () => {},
      };
    }
    case "docker":
      return startDocker(token);
    case "bao": {
      const binary = findServerBinary(env);
      if (!binary) throw new Error(`no bao or vault binary found; ${HOW_TO_GET_VAULT}`);
      const server = await startDevServer(binary, token);
      return { target: { addr: server.addr, token, backend: "bao", binary }, stop: () => server.stop() };
    }
    default:
      throw new Error(`ECA_TEST_VAULT=${String(backend)} is not one of bao, docker, external`);
  }
}
