// verifySfmcSecret against the simulator's Marketing Cloud v2/token over real HTTP.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { verifySfmcSecret } from "../../../src/adapters/sfmc/sfmc-token-check.ts";
import { isRotatorError, RotatorError } from "../../../src/core/errors.ts";
import { SecretValue } from "../../../src/core/secret-value.ts";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../../src/simulator/salesforce/salesforce-simulator.ts";
import { startFloodServer } from "../../support/flood-server.ts";
import { freePort } from "../../support/vault-backend.ts";

let sim: SalesforceSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe("verifySfmcSecret", () => {
  it("is ok for the active secret of an installed package", async () => {
    sim = await startSalesforceSimulator();
    const pkg = sim.mc.createPackage("crm-sync");
    const r = await verifySfmcSecret(sim.url, pkg.clientId, SecretValue.of(pkg.clientSecret), 5_000);
    expect(r).toEqual({ ok: true });
  });

  it("is refused with invalid_client for a wrong secret, and the secret is nowhere in the answer", async () => {
    sim = await startSalesforceSimulator();
    const pkg = sim.mc.createPackage("crm-sync");
    const canary = "test-secret-canary-sfmc-wrong";
    const r = await verifySfmcSecret(`${sim.url}/`, pkg.clientId, SecretValue.of(canary), 5_000);
    expect(r).toEqual({ ok: false, refusal: "invalid_client" });
    expect(JSON.stringify(r)).not.toContain(canary);
  });

  it("throws a retryable SALESFORCE_UNAVAILABLE without the secret when nothing listens", async () => {
    const port = await freePort();
    const canary = "test-secret-canary-sfmc-down";
    const err = await verifySfmcSecret(
      `http://127.0.0.1:${port}`,
      "cid",
      SecretValue.of(canary),
      2_000,
    ).catch((e: unknown) => e);
    expect(isRotatorError(err, "SALESFORCE_UNAVAILABLE")).toBe(true);
    expect((err as RotatorError).retryable).toBe(true);
    expect(JSON.stringify({ m: (err as Error).message, c: (err as RotatorError).context })).not.toContain(
      canary,
    );
  });

  it("treats an HTML error page as unexpected, not as a refusal", async () => {
    const server = createServer((_req, res) => {
      res.writeHead(403, { "content-type": "text/html" });
      res.end("<html>forbidden</html>");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const { port } = server.address() as AddressInfo;
      const err = await verifySfmcSecret(`http://127.0.0.1:${port}`, "cid", SecretValue.of("x"), 2_000).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RotatorError);
      expect((err as RotatorError).code).toBe("SALESFORCE_UNEXPECTED_RESPONSE");
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it.each(["stream", "declared"] as const)(
    "aborts a 200 MiB token answer (%s) near 1 MiB: SALESFORCE_UNEXPECTED_RESPONSE, the secret nowhere",
    async (mode) => {
      const flood = await startFloodServer({ mode });
      const canary = "test-secret-canary-sfmc-flood";
      try {
        const err = await verifySfmcSecret(flood.url, "cid", SecretValue.of(canary), 10_000).catch(
          (e: unknown) => e,
        );
        expect(isRotatorError(err, "SALESFORCE_UNEXPECTED_RESPONSE")).toBe(true);
        expect((err as RotatorError).message).toBe(
          `Marketing Cloud at ${flood.url} answered HTTP 200, but the answer is larger than 1 MiB`,
        );
        expect(JSON.stringify((err as RotatorError).context)).not.toContain(canary);
        const [sent = Number.POSITIVE_INFINITY] = await flood.settled();
        expect(sent).toBeLessThan(mode === "declared" ? 1 : 17 * 1024 * 1024);
      } finally {
        await flood.close();
      }
    },
  );
});
