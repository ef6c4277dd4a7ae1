// Marketing Cloud installed packages: one client id, an active secret and at
// most one staged secret. Staging and activation happen in Setup (no public API), so they are test hooks here:
// at most one generation and one activation per 5 minutes, a staged secret authenticates only once it is 5
// minutes old, activation kills the old secret at once, and every secret expires 180 days after it was made
// (secrets made before the TTL was announced expire at the global cut-off instead). Kept in memory only.
import { randomBytes } from "node:crypto";
import { RotatorError } from "../../core/errors.ts";

const MC_FIVE_MINUTES_MS = 5 * 60_000;
const MC_SECRET_TTL_MS = 180 * 24 * 3_600_000;
/** Every secret generated before the TTL existed stops working at this instant. */
const MC_LEGACY_CUTOFF = new Date("2026-09-30T00:00:00Z");

export type McSecretState = "staged" | "active" | "expired" | "deactivated";

interface McSecret {
  readonly secret: string;
  readonly createdMs: number;
  readonly expiresMs: number;
  state: McSecretState;
}

export interface McPackage {
  readonly name: string;
  readonly clientId: string;
  readonly accountId: string;
  readonly secrets: McSecret[];
  lastStagedMs: number | undefined;
  lastActivatedMs: number | undefined;
}

export interface McPackageView {
  name: string;
  clientId: string;
  accountId: string;
  /** The active secret when the package was created. */
  clientSecret: string;
}

export interface CreatePackageOptions {
  /** A secret from before the TTL: it expires at the 2026-09-30 cut-off, not 180 days after it was made. */
  legacy?: boolean;
}

export class McPackages {
  readonly #packages = new Map<string, McPackage>();

  create(name: string, nowMs: number, o: CreatePackageOptions = {}): McPackageView {
    const clientId = token(12);
    const expiresMs = o.legacy ? MC_LEGACY_CUTOFF.getTime() : nowMs + MC_SECRET_TTL_MS;
    const active: McSecret = { secret: token(24), createdMs: nowMs, expiresMs, state: "active" };
    const pkg: McPackage = {
      name,
      clientId,
      accountId: String(500_000_000 + this.#packages.size),
      secrets: [active],
      lastStagedMs: undefined,
      lastActivatedMs: undefined,
    };
    this.#packages.set(clientId, pkg);
    return { name, clientId, accountId: pkg.accountId, clientSecret: active.secret };
  }

  find(clientId: string): McPackage | undefined {
    return this.#packages.get(clientId);
  }

  /** Setup → Installed Packages → Staged Secret → Generate. Replaces a staged secret never activated. */
  stage(clientId: string, nowMs: number): string {
    const pkg = this.#must(clientId);
    if (pkg.lastStagedMs !== undefined && nowMs - pkg.lastStagedMs < MC_FIVE_MINUTES_MS) {
      throw new RotatorError("USAGE", "a secret can be generated at most once every 5 minutes");
    }
    this.#expire(pkg, nowMs);
    for (const s of pkg.secrets) if (s.state === "staged") s.state = "deactivated";
    const staged: McSecret = {
      secret: token(24),
      createdMs: nowMs,
      expiresMs: nowMs + MC_SECRET_TTL_MS,
      state: "staged",
    };
    pkg.secrets.push(staged);
    pkg.lastStagedMs = nowMs;
    return staged.secret;
  }

  /** Setup → Activate: the staged secret becomes the only active one; the old one stops working at once. */
  activate(clientId: string, nowMs: number): void {
    const pkg = this.#must(clientId);
    this.#expire(pkg, nowMs);
    const staged = pkg.secrets.find((s) => s.state === "staged");
    if (staged === undefined) throw new RotatorError("USAGE", "there is no staged secret to activate");
    if (nowMs - staged.createdMs < MC_FIVE_MINUTES_MS) {
      throw new RotatorError("USAGE", "wait 5 minutes after staging before activating");
    }
    if (pkg.lastActivatedMs !== undefined && nowMs - pkg.lastActivatedMs < MC_FIVE_MINUTES_MS) {
      throw new RotatorError("USAGE", "a secret can be activated at most once every 5 minutes");
    }
    for (const s of pkg.secrets) if (s.state === "active") s.state = "deactivated";
    staged.state = "active";
    pkg.lastActivatedMs = nowMs;
  }

  /** Which secrets authenticate right now: active, and staged ones at least 5 minutes old; none expired. */
  validSecrets(clientId: string, nowMs: number): Array<{ secret: string; state: McSecretState }> {
    const pkg = this.#must(clientId);
    this.#expire(pkg, nowMs);
    return pkg.secrets
      .filter(
        (s) => s.state === "active" || (s.state === "staged" && nowMs - s.createdMs >= MC_FIVE_MINUTES_MS),
      )
      .map((s) => ({ secret: s.secret, state: s.state }));
  }

  /** Every secret of the package with its state (expiry applied), oldest first. */
  secrets(clientId: string, nowMs: number): Array<{ secret: string; state: McSecretState; expiresAt: Date }> {
    const pkg = this.#must(clientId);
    this.#expire(pkg, nowMs);
    return pkg.secrets.map((s) => ({ secret: s.secret, state: s.state, expiresAt: new Date(s.expiresMs) }));
  }

  #expire(pkg: McPackage, nowMs: number): void {
    for (const s of pkg.secrets) {
      if ((s.state === "active" || s.state === "staged") && nowMs >= s.expiresMs) s.state = "expired";
    }
  }

  #must(clientId: string): McPackage {
    const pkg = this.#packages.get(clientId);
    if (!pkg) throw new RotatorError("USAGE", "no such installed package in the simulated tenant");
    return pkg;
  }
}

function token(bytes: number): string {
  return randomBytes(bytes).toString("base64url").toLowerCase();
}
