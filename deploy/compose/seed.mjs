// One-shot seeding for deploy/docker-compose.yml (runs once in the eca-rotator image, in the simulator's network
// namespace): asks the Salesforce simulator's test-only admin API (/__sim/, on with --admin-api) for its admin
// app and creates three External Client Apps, then writes into Vault, over its HTTP API:
//   - the connection entry eca-rotator logs in with (client_id, client_secret of the simulator's admin app);
//   - three managed credentials holding those apps' real (simulated) pairs: one flagged rotate=now, one overdue,
//     one healthy, so the daemon rotates two of them on its first scan.
// Every value is made up and works only against this simulator. Safe to run again: it stops when the connection
// entry already exists. Plain JavaScript so the runtime image can run it without a build.
const env = process.env;
const vaultAddr = (env.VAULT_ADDR ?? "http://vault:8200").replace(/\/+$/, "");
const vaultToken = env.VAULT_TOKEN ?? "";
const simUrl = (env.SIM_URL ?? "http://127.0.0.1:8443").replace(/\/+$/, "");
const mount = env.KV_MOUNT ?? "secret";
const prefix = env.SEED_PREFIX ?? "api-credentials";
const connectionPath = env.CONNECTION_PATH ?? "eca-rotator/connections/sim";
const connectionName = env.CONNECTION_NAME ?? "sim";
const DAY = 86_400_000;

function say(line) {
  process.stdout.write(`${line}\n`);
}

async function call(url, init, what) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
    } catch (err) {
      // depends_on waits for healthy services; this only rides out a slow first answer.
      if (attempt >= 10) throw new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

async function vault(method, path, body) {
  const res = await call(
    `${vaultAddr}/v1/${path}`,
    {
      method,
      headers: { "X-Vault-Token": vaultToken, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    },
    `vault ${method} ${path}`,
  );
  if (method === "GET" && res.status === 404) return undefined;
  if (!res.ok) throw new Error(`vault ${method} ${path}: HTTP ${res.status}`);
  return res.status === 204 ? {} : res.json();
}

async function sim(method, path, body) {
  const res = await call(
    `${simUrl}/__sim/${path}`,
    {
      method,
      headers: { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    },
    `simulator ${method} /__sim/${path}`,
  );
  if (!res.ok) throw new Error(`simulator ${method} /__sim/${path}: HTTP ${res.status} (is --admin-api on?)`);
  return res.json();
}

function samples(now) {
  const ago = (days) => new Date(now - days * DAY).toISOString();
  return [
    {
      name: "crm-integration",
      app: "CRM_Integration",
      expect: "flagged: rotated at the first scan",
      meta: {
        consumers: "crm-sync,nightly-reporting",
        rotation_contact: "#crm-oncall",
        last_rotated: ago(30),
        rotation_verified_at: ago(30),
        rotate: "now",
        rotate_reason: "compose demo: rotate at the first scan",
      },
    },
    {
      name: "payments-gateway",
      app: "Payments_Gateway",
      expect: "overdue: rotated by schedule",
      meta: {
        risk: "high",
        consumers: "checkout-api",
        rotation_contact: "payments-team@example.com",
        last_rotated: ago(120),
        rotation_verified_at: ago(120),
      },
    },
    {
      name: "partner-portal",
      app: "Partner_Portal",
      expect: "ok: left alone",
      meta: {
        consumers: "partner-portal-web",
        rotation_contact: "#partners",
        last_rotated: ago(10),
        rotation_verified_at: ago(10),
      },
    },
  ];
}

async function main() {
  if (vaultToken === "") throw new Error("VAULT_TOKEN is not set");
  if (await vault("GET", `${mount}/data/${connectionPath}`)) {
    say(`already seeded: ${mount}/${connectionPath} exists; nothing to do`);
    return;
  }
  const admin = await sim("GET", "admin-app");
  await vault("POST", `${mount}/data/${connectionPath}`, {
    data: { client_id: admin.consumerKey, client_secret: admin.consumerSecret },
  });
  say(`seeded ${mount}/${connectionPath} (the simulator's admin app ${admin.developerName})`);
  for (const s of samples(Date.now())) {
    const app = await sim("POST", "apps", { developerName: s.app });
    const path = `${prefix}/salesforce/${s.name}`;
    await vault("POST", `${mount}/data/${path}`, {
      data: {
        client_id: app.consumerKey,
        api_key: app.consumerSecret,
        previous_client_id: "",
        previous_key: "",
      },
    });
    await vault("POST", `${mount}/metadata/${path}`, {
      custom_metadata: {
        provider: "salesforce-eca",
        sf_connection: connectionName,
        eca_app_id: app.appId,
        eca_consumer_id: app.consumerId,
        ...s.meta,
      },
    });
    say(`seeded ${mount}/${path} (${s.expect})`);
  }
}

main().catch((err) => {
  process.stderr.write(`seed failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
