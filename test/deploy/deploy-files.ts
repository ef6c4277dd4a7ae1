// Readers for the deployment files the tests check: YAML documents (multi-document, with compose's merge keys),
// the Dockerfile's instructions, systemd's key=value units, and a built copy of dist/ laid out as in the image.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";

export const ROOT = path.resolve(import.meta.dirname, "../..");

export function repoFile(rel: string): string {
  return readFileSync(path.join(ROOT, rel), "utf8");
}

/** Every document of a YAML file, failing on any parse error or warning. */
export function yamlDocuments(rel: string): unknown[] {
  const docs = parseAllDocuments(repoFile(rel), { merge: true, prettyErrors: true });
  if (!Array.isArray(docs)) return [];
  return docs.map((d) => {
    const problems = [...d.errors, ...d.warnings];
    if (problems.length > 0) throw new Error(`${rel}: ${problems.map((p) => p.message).join("; ")}`);
    return d.toJS() as unknown;
  });
}

/** A loose view of parsed YAML for reading nested fields in tests. */
// biome-ignore lint/suspicious/noExplicitAny: test-only accessor for arbitrary manifest shapes
export type Loose = any;

export interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
export function dockerInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("#") || (line === "" && pending === "")) continue;
    const continued = line.endsWith("\\");
    pending += `${continued ? line.slice(0, -1) : line} `;
    if (continued) continue;
    const m = /^(\S+)\s*(.*)$/.exec(pending.trim());
    if (m) out.push({ keyword: (m[1] ?? "").toUpperCase(), args: (m[2] ?? "").trim() });
    pending = "";
  }
  return out;
}

export interface Stage {
  readonly base: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

export function dockerStages(instructions: readonly Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === "FROM") {
      const [base = "", as, name] = ins.args.split(/\s+/);
      stages.push({ base, name: as?.toUpperCase() === "AS" ? name : undefined, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(ins);
    }
  }
  return stages;
}

/** COPY's flags (--from=x) and its sources and destination. */
export function copyParts(args: string): { flags: Record<string, string>; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  const flags: Record<string, string> = {};
  while (words[0]?.startsWith("--")) {
    const [k = "", v = ""] = (words.shift() ?? "").slice(2).split("=");
    flags[k] = v;
  }
  const dest = words.pop() ?? "";
  return { flags, sources: words, dest };
}

/** systemd unit: section → key → values (a key may repeat). */
export function systemdUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1] ?? "", current);
      continue;
    }
    const eq = line.indexOf("=");
    if (eq < 0 || current === undefined) throw new Error(`not key=value: ${line}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

/** "45s", "45", "1min 30s" (systemd) → seconds. */
export function systemdSeconds(value: string): number {
  let total = 0;
  for (const m of value.matchAll(/(\d+)\s*(min|m|s|sec|h)?/g)) {
    const n = Number(m[1]);
    total += m[2] === "min" || m[2] === "m" ? n * 60 : m[2] === "h" ? n * 3600 : n;
  }
  return total;
}

/**
 * Builds dist/ with the package's build (as the Dockerfile's build stage does: `npm run build`) into a temp folder
 * inside the project, laid out like the image's /app: <dir>/dist, <dir>/package.json; node_modules resolve
 * from the project. Returns the folder and a cleanup.
 */
/** The folders of dist/ the Dockerfile leaves out of the runtime image (its build stage's dist-image/). */
export const IMAGE_LEAVES_OUT = ["simulator", "demo"] as const;

export function buildAppDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(ROOT, ".build-test-deploy-"));
  execFileSync(process.execPath, [path.join(ROOT, "scripts/build.ts"), "--out-dir", path.join(dir, "dist")], {
    cwd: ROOT,
  });
  for (const folder of IMAGE_LEAVES_OUT)
    rmSync(path.join(dir, "dist", folder), { recursive: true, force: true });
  copyFileSync(path.join(ROOT, "package.json"), path.join(dir, "package.json"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
