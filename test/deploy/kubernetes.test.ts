// deploy/kubernetes: every manifest parses and the fields that matter line up with each other and with the
// config the ConfigMap carries, which loads with the real config loader: image, ports, probes, resources,
// securityContext, the ServiceAccount, the config and secret mounts, the grace period against
// server.shutdown_timeout, the CronJob, the selectors of the Service, NetworkPolicy and PodDisruptionBudget.
import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { Config } from "../../src/config/config-types.ts";
import { loadConfig } from "../../src/config/load-config.ts";
import { transportWarnings } from "../../src/config/summarize-config.ts";
import { type Loose, ROOT, repoFile, yamlDocuments } from "./deploy-files.ts";

const DIR = "deploy/kubernetes";
const files = readdirSync(path.join(ROOT, DIR)).filter((f) => f.endsWith(".yaml"));
const manifests: Loose[] = files
  .filter((f) => f !== "kustomization.yaml")
  .flatMap((f) => yamlDocuments(`${DIR}/${f}`).map((doc) => ({ ...(doc as object), __file: f })));

function one(kind: string): Loose {
  const found = manifests.filter((m) => m.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0];
}

const deployment = one("Deployment");
const cronjob = one("CronJob");
const configMap = one("ConfigMap");
const secret = one("Secret");
const pod = deployment.spec.template.spec;
const container = pod.containers[0];
const cronPod = cronjob.spec.jobTemplate.spec.template.spec;
const cronContainer = cronPod.containers[0];

/** The ConfigMap key a container's config file comes from, loaded with the real loader as the CLI would. */
function mountedConfig(podSpec: Loose, c: Loose): { file: string; config: Config } {
  const file = c.env.find((e: Loose) => e.name === "ECA_ROTATOR_CONFIG")?.value as string;
  const mount = c.volumeMounts.find((m: Loose) => file.startsWith(`${m.mountPath}/`));
  const volume = podSpec.volumes.find((v: Loose) => v.name === mount.name);
  expect(volume.configMap.name).toBe(configMap.metadata.name);
  const key = volume.configMap.items.find(
    (i: Loose) => i.path === file.slice(mount.mountPath.length + 1),
  ).key;
  const text = configMap.data[key];
  expect(typeof text, `ConfigMap key ${key}`).toBe("string");
  const config = loadConfig({ file, env: {}, readFile: (p) => (p === file ? text : "") });
  return { file, config };
}

/** True when `file` is a key of a Secret or projected volume mounted in the container. */
function mountedFile(podSpec: Loose, c: Loose, file: string): string {
  const mount = c.volumeMounts.find((m: Loose) => file.startsWith(`${m.mountPath}/`));
  expect(mount, `a volume is mounted for ${file}`).toBeDefined();
  const rel = file.slice(mount.mountPath.length + 1);
  const volume = podSpec.volumes.find((v: Loose) => v.name === mount.name);
  if (volume.secret) {
    expect(volume.secret.secretName).toBe(secret.metadata.name);
    const item = volume.secret.items.find((i: Loose) => i.path === rel);
    expect(item, `${file} is an item of the Secret volume`).toBeDefined();
    expect(Object.keys(secret.stringData)).toContain(item.key);
    return "secret";
  }
  if (volume.projected) {
    const sources = volume.projected.sources.map((s: Loose) => s.serviceAccountToken?.path);
    expect(sources).toContain(rel);
    return "projected";
  }
  if (volume.emptyDir) return "emptyDir";
  throw new Error(`${file} is on volume ${mount.name} of an unexpected kind`);
}

describe("the Kubernetes manifests", () => {
  it("parse, and each has apiVersion, kind and metadata.name", () => {
    expect(manifests.length).toBeGreaterThanOrEqual(8);
    for (const m of manifests) {
      expect(typeof m.apiVersion, m.__file).toBe("string");
      expect(typeof m.kind, m.__file).toBe("string");
      expect(m.metadata?.name, m.__file).toMatch(/^[a-z0-9-]+$/);
    }
  });

  it("are all listed in kustomization.yaml except the Secret example, which would overwrite the real Secret", () => {
    const [kustomization] = yamlDocuments(`${DIR}/kustomization.yaml`) as Loose[];
    const expected = files.filter((f) => f !== "kustomization.yaml" && f !== "secret.example.yaml");
    expect([...kustomization.resources].sort()).toEqual(expected.sort());
    expect(kustomization.namespace).toBe("eca-rotator");
    expect(kustomization.images).toEqual([
      expect.objectContaining({ name: container.image.split(":")[0], newTag: container.image.split(":")[1] }),
    ]);
  });

  it("run two daemon replicas of the package's version, on port 8080 with serve", () => {
    const version = (JSON.parse(repoFile("package.json")) as { version: string }).version;
    expect(deployment.spec.replicas).toBe(2);
    expect(container.image).toBe(`eca-rotator:${version}`);
    expect(container.args).toEqual(["serve"]);
    expect(container.ports).toEqual([{ name: "http", containerPort: 8080, protocol: "TCP" }]);
    const { config } = mountedConfig(pod, container);
    expect(config.server.listen).toBe("0.0.0.0:8080");
  });

  it("probe liveness and startup on /healthz and readiness on /readyz, and set requests and limits", () => {
    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    expect(container.startupProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
    for (const c of [container, cronContainer]) {
      expect(Object.keys(c.resources.requests).sort()).toEqual(["cpu", "memory"]);
      expect(Object.keys(c.resources.limits).sort()).toEqual(["cpu", "memory"]);
    }
  });

  it("run non-root on a read-only root filesystem with no privilege escalation, no capabilities and seccomp", () => {
    for (const [podSpec, c] of [
      [pod, container],
      [cronPod, cronContainer],
    ]) {
      expect(podSpec.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 1000,
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(c.securityContext).toMatchObject({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
      });
    }
  });

  it("log in to Vault each as its own ServiceAccount and role, with a projected token that the config reads", () => {
    const accounts = manifests.filter((m) => m.kind === "ServiceAccount");
    expect(accounts.map((a) => a.metadata.name).sort()).toEqual(["eca-rotator", "eca-rotator-report"]);
    for (const a of accounts) expect(a.automountServiceAccountToken).toBe(false);
    // The CronJob must not share the daemon's identity: its role holds report-sender.hcl, which cannot read or
    // write credentials (test/policies/report-sender-policy.test.ts).
    // The README's shell lines with their continuations joined.
    const vaultSide = repoFile("deploy/README.md").replace(/\s*\\\n\s*/g, " ");
    for (const [podSpec, c, account, policy] of [
      [pod, container, "eca-rotator", "rotator.hcl"],
      [cronPod, cronContainer, "eca-rotator-report", "report-sender.hcl"],
    ]) {
      expect(podSpec.serviceAccountName).toBe(account);
      const { config } = mountedConfig(podSpec, c);
      expect(config.vault.auth).toMatchObject({ method: "kubernetes", role: account });
      if (config.vault.auth.method !== "kubernetes") throw new Error("kubernetes auth expected");
      expect(mountedFile(podSpec, c, config.vault.auth.jwtFile)).toBe("projected");
      const projected = podSpec.volumes.find((v: Loose) => v.projected).projected.sources[0]
        .serviceAccountToken;
      expect(projected.audience).toBe("vault");
      // deploy/README.md creates the role bound to exactly this account, with exactly this policy file.
      expect(vaultSide).toContain(`vault policy write ${account} policies/${policy}`);
      expect(vaultSide).toContain(
        `vault write auth/kubernetes/role/${account} bound_service_account_names=${account} ` +
          `bound_service_account_namespaces=eca-rotator audience=vault token_policies=${account} `,
      );
    }
  });

  it("mount every secret the daemon's config names from the Secret, and the audit file on a writable volume", () => {
    const { config } = mountedConfig(pod, container);
    const refs = [
      ...config.server.apiTokens.map((t) => t.ref),
      ...config.server.readTokens.map((t) => t.ref),
      ...config.notifications.targets.flatMap((t) => [t.url, ...(t.secret ? [t.secret] : [])]),
    ];
    expect(refs.length).toBeGreaterThanOrEqual(2);
    for (const ref of refs) {
      expect(ref.kind, ref.key).toBe("file");
      if (ref.kind === "file") expect(mountedFile(pod, container, ref.path)).toBe("secret");
    }
    expect(config.audit.file).toBeDefined();
    expect(mountedFile(pod, container, config.audit.file ?? "")).toBe("emptyDir");
    // Placeholders only: nothing in the example looks like a real value.
    for (const value of Object.values(secret.stringData)) expect(value).toMatch(/^REPLACE_ME_/);
  });

  it("talk https to Vault and Salesforce in both configs, with no plain-http opt-out and TLS verified", () => {
    for (const [podSpec, c] of [
      [pod, container],
      [cronPod, cronContainer],
    ] as const) {
      const { config } = mountedConfig(podSpec, c);
      expect(config.vault.address.startsWith("https://")).toBe(true);
      expect(config.salesforce.connections.every((conn) => conn.myDomainUrl.startsWith("https://"))).toBe(
        true,
      );
      expect(config.vault.allowInsecureHttp).toBe(false);
      expect(config.notifications.targets.some((t) => t.allowInsecureHttp)).toBe(false);
      expect(transportWarnings(config)).toEqual([]);
    }
  });

  it("allow the Service's DNS names as Host and guard the GET routes with a read token", () => {
    const { config } = mountedConfig(pod, container);
    const [kustomization] = yamlDocuments(`${DIR}/kustomization.yaml`) as Loose[];
    const name = one("Service").metadata.name as string;
    const namespace = kustomization.namespace as string;
    // In-cluster callers use these names; anything else but an IP literal would get 421.
    expect(config.server.allowedHosts).toEqual(
      expect.arrayContaining([`${name}.${namespace}.svc`, `${name}.${namespace}.svc.cluster.local`]),
    );
    // listen is 0.0.0.0, so the inventory, the status page and /metrics are not left open.
    expect(config.server.readTokens.length).toBeGreaterThan(0);
  });

  it("give the daemon a termination grace period longer than server.shutdown_timeout", () => {
    const { config } = mountedConfig(pod, container);
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(
      config.server.shutdownTimeoutMs,
    );
  });

  it("run report --send every Monday 09:00 UTC from the same image, never two at once", () => {
    expect(cronjob.spec.schedule).toBe("0 9 * * 1");
    expect(cronjob.spec.timeZone).toBe("Etc/UTC");
    expect(cronjob.spec.concurrencyPolicy).toBe("Forbid");
    expect(cronContainer.image).toBe(container.image);
    expect(cronContainer.args).toEqual(["report", "--send"]);
    expect(cronPod.restartPolicy).toBe("Never");
    // Its own config sends the weekly report to a target; the daemon's sends it too, hence suspended until
    // an operator moves it (the comment in the manifest says how).
    const { config } = mountedConfig(cronPod, cronContainer);
    const weekly = config.notifications.targets.filter((t) => t.events.includes("report.weekly"));
    expect(weekly.length).toBeGreaterThan(0);
    for (const t of weekly)
      expect(mountedFile(cronPod, cronContainer, t.url.kind === "file" ? t.url.path : "")).toBe("secret");
    const daemon = mountedConfig(pod, container).config;
    expect(daemon.report.schedule).toBe(cronjob.spec.schedule);
    expect(cronjob.spec.suspend).toBe(true);
  });

  it("select the daemon pods with the Service and PodDisruptionBudget, and all eca-rotator pods with the NetworkPolicy", () => {
    const labels = deployment.spec.template.metadata.labels as Record<string, string>;
    const matches = (selector: Record<string, string>, l: Record<string, string>) =>
      Object.entries(selector).every(([k, v]) => l[k] === v);
    expect(matches(deployment.spec.selector.matchLabels, labels)).toBe(true);

    const service = one("Service");
    expect(matches(service.spec.selector, labels)).toBe(true);
    expect(service.spec.ports).toEqual([{ name: "http", port: 8080, targetPort: "http", protocol: "TCP" }]);

    const pdb = one("PodDisruptionBudget");
    expect(pdb.spec.minAvailable).toBe(1);
    expect(matches(pdb.spec.selector.matchLabels, labels)).toBe(true);

    const cronLabels = cronjob.spec.jobTemplate.spec.template.metadata.labels as Record<string, string>;
    // The CronJob's pods are not daemon replicas: the Service and the budget must not count them.
    expect(matches(service.spec.selector, cronLabels)).toBe(false);
    expect(matches(pdb.spec.selector.matchLabels, cronLabels)).toBe(false);

    const policy = one("NetworkPolicy");
    expect(matches(policy.spec.podSelector.matchLabels, labels)).toBe(true);
    expect(matches(policy.spec.podSelector.matchLabels, cronLabels)).toBe(true);
    expect(policy.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(policy.spec.ingress.flatMap((r: Loose) => r.ports.map((p: Loose) => p.port))).toEqual([8080]);
    const egressPorts = policy.spec.egress.flatMap((r: Loose) => r.ports.map((p: Loose) => p.port));
    for (const port of [53, 8200, 443]) expect(egressPorts).toContain(port);
  });
});
