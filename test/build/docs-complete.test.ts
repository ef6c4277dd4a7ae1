// The documentation is README.md (a landing page) plus docs/. Two promises are checked here. Every relative link
// in a tracked Markdown file leads somewhere: the file exists and, for "#anchor", a heading or <a id> of that name
// is in it. And docs/ names every error code, config key, metric, CLI command and option, and custom_metadata
// key that the code has, each list taken from the code itself, so a new one fails this test until it is written up.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../../src/cli/run-cli.ts";
import { KNOWN_KEYS } from "../../src/config/config-schema.ts";
import { PROVIDERS } from "../../src/core/providers/provider-registry.ts";
import { createDaemonMetrics } from "../../src/daemon/metrics.ts";

/** Every custom_metadata key the rotator reads: the registered providers' own and the generic ones. */
const POLICY_KEYS = PROVIDERS.policyKeys;

const ROOT = path.resolve(import.meta.dirname, "../..");

function repoFile(rel: string): string {
  return readFileSync(path.join(ROOT, rel), "utf8");
}

function trackedMarkdown(): string[] {
  const out = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "*.md"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  return [...new Set(out.split("\0"))].filter((f) => f !== "" && existsSync(path.join(ROOT, f)));
}

/** The text outside fenced code blocks, line by line (a link or heading inside a code block is neither). */
function proseLines(markdown: string): { line: string; no: number }[] {
  const out: { line: string; no: number }[] = [];
  let fence = false;
  markdown.split("\n").forEach((line, i) => {
    if (/^\s*```/.test(line)) fence = !fence;
    else if (!fence) out.push({ line, no: i + 1 });
  });
  return out;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped (backticks, parentheses, '=' …), spaces to '-'. */
function slugOf(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

/** Every anchor a Markdown file offers: its headings (repeats get -1, -2 … as on GitHub) and explicit <a id>s. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { line } of proseLines(markdown)) {
    const heading = /^#{1,6} (.+)$/.exec(line);
    if (heading?.[1] !== undefined) {
      const base = slugOf(heading[1]);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/<a (?:id|name)="([^"]+)"/g)) if (m[1] !== undefined) anchors.add(m[1]);
  }
  return anchors;
}

/** The relative link targets of one Markdown text (inline links outside code, and reference definitions). */
function linksOf(markdown: string): { target: string; no: number }[] {
  const out: { target: string; no: number }[] = [];
  for (const { line, no } of proseLines(markdown)) {
    const text = line.replace(/`[^`]*`/g, "``");
    for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) out.push({ target: m[1] ?? "", no });
    const ref = /^\s*\[[^\]]+\]:\s*(\S+)/.exec(text);
    if (ref?.[1] !== undefined) out.push({ target: ref[1], no });
  }
  return out.filter((l) => !/^[a-z][a-z0-9+.-]*:/i.test(l.target));
}

/** Links of `file` (repository-relative) that do not resolve, as "file:line: target (why)". */
function brokenLinks(file: string, markdown: string, read: (rel: string) => string | undefined): string[] {
  const broken: string[] = [];
  for (const { target, no } of linksOf(markdown)) {
    const [rawPath = "", anchor] = target.split("#", 2);
    const rel =
      rawPath === "" ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), rawPath));
    const where = `${file}:${no}: ${target}`;
    if (rel.startsWith("..")) {
      broken.push(`${where} (outside the repository)`);
      continue;
    }
    const text = read(rel.replace(/\/$/, ""));
    if (text === undefined) {
      broken.push(`${where} (no such file)`);
      continue;
    }
    if (anchor !== undefined && anchor !== "") {
      if (!rel.endsWith(".md")) broken.push(`${where} (an anchor into a file that is not Markdown)`);
      else if (!anchorsOf(text).has(anchor)) broken.push(`${where} (no heading or <a id> "${anchor}" there)`);
    }
  }
  return broken;
}

/** A repository file's text, "" for a folder, undefined when there is neither. */
function readRepo(rel: string): string | undefined {
  const abs = path.join(ROOT, rel);
  if (!existsSync(abs)) return undefined;
  try {
    return readFileSync(abs, "utf8");
  } catch {
    return ""; // a folder: the link is fine, it has no anchors
  }
}

describe("every relative link in the documentation resolves", () => {
  it("README.md, docs/ and every other tracked Markdown file link only to files and anchors that exist", () => {
    const files = trackedMarkdown();
    expect(files).toContain("README.md");
    expect(files.filter((f) => f.startsWith("docs/")).length).toBeGreaterThan(10);
    const broken = files.flatMap((f) => brokenLinks(f, repoFile(f), readRepo));
    expect(broken).toEqual([]);
  });

  it("names only repository files that exist when it writes a path in code (src/…, test/…, deploy/…)", () => {
    const named =
      /\b((?:src|test|bench|deploy|policies|scripts|docs)\/[\w./-]+\.(?:ts|mjs|ya?ml|hcl|md|sh|service))\b/g;
    const gone: string[] = [];
    for (const file of trackedMarkdown()) {
      for (const m of repoFile(file).matchAll(named)) {
        const rel = m[1] ?? "";
        if (!existsSync(path.join(ROOT, rel))) gone.push(`${file}: ${rel}`);
      }
    }
    expect(gone).toEqual([]);
  });

  it("links every page in docs/ from README.md", () => {
    const linked = new Set(linksOf(repoFile("README.md")).map((l) => l.target.split("#")[0]));
    const pages = trackedMarkdown().filter((f) => f.startsWith("docs/"));
    expect(pages.filter((p) => !linked.has(p))).toEqual([]);
  });

  it("keeps README.md a landing page of at most 15 KB that still shows the two first commands", () => {
    const readme = repoFile("README.md");
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(15 * 1024);
    // .ci/run runs exactly ./test.sh, which the README promises; the demo test runs ./run.sh.
    expect(readme).toMatch(/^\.\/run\.sh {5}# demo: /m);
    expect(readme).toMatch(/^\.\/test\.sh {4}# every test, /m);
    expect(repoFile(".ci/run")).toMatch(/^exec \.\/test\.sh$/m);
  });

  it("catches a missing file, a missing anchor and a link that leaves the repository", () => {
    const pages: Record<string, string> = {
      "docs/a.md":
        '# Page A\n\n## The daemon (`serve`)\n\n<a id="calls"></a>**Calls.**\n\n## Twice\n\n## Twice\n',
    };
    const read = (rel: string) => pages[rel];
    const sample = [
      "[ok](docs/a.md#the-daemon-serve) [ok](docs/a.md#calls) [ok](docs/a.md#twice-1) [web](https://x.test/#y)",
      "`[in code](nowhere.md)`",
      "```",
      "[in a fence](nowhere.md)",
      "```",
      "[gone](docs/b.md) [no anchor](docs/a.md#rotation) [up](../outside.md)",
    ].join("\n");
    expect(brokenLinks("README.md", sample, read)).toEqual([
      "README.md:6: docs/b.md (no such file)",
      'README.md:6: docs/a.md#rotation (no heading or <a id> "rotation" there)',
      "README.md:6: ../outside.md (outside the repository)",
    ]);
    expect(slugOf("Generated secrets (`provider=generated`)")).toBe("generated-secrets-providergenerated");
    expect(slugOf("The Salesforce unknowns, and the simulator's switches")).toBe(
      "the-salesforce-unknowns-and-the-simulators-switches",
    );
  });
});

/** Names from `expected` that `documented` does not accept, for a failure message that lists them. */
function missing(expected: readonly string[], documented: (name: string) => boolean): string[] {
  return expected.filter((name) => !documented(name));
}

function literal(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("docs/ documents everything the code has", () => {
  it("every error code of src/core/errors.ts has a row in the runbook's error-code table", () => {
    const source = repoFile("src/core/errors.ts");
    const union = /export type ErrorCode =([^;]+);/.exec(source.replace(/\/\/.*$/gm, ""))?.[1] ?? "";
    const codes = [...union.matchAll(/"([A-Z0-9_]+)"/g)].map((m) => m[1] ?? "");
    expect(codes.length).toBeGreaterThan(30);
    const runbook = repoFile("docs/runbook.md");
    const table = runbook.slice(runbook.indexOf("## What to do for each error code"));
    expect(missing(codes, (c) => new RegExp(`^\\| \`${c}\` \\|`, "m").test(table))).toEqual([]);
  });

  it("every config key of KNOWN_KEYS appears in docs/configuration.md", () => {
    // KNOWN_KEYS maps each object (dotted, `*` for a name the user picks) to its keys. A key counts as documented
    // when configuration.md shows it as a YAML key (`name:`, also in comments and flow maps), in backticks alone
    // or at the end of a dotted path, or named in a comment of the YAML reference (where alternatives are listed:
    // "# approle: role_id or role_id_file, …"). Reported by dotted path.
    const paths = Object.entries(KNOWN_KEYS).flatMap(([parent, keys]) =>
      keys.map((k) => (parent === "" ? k : `${parent}.${k}`)),
    );
    expect(paths.length).toBeGreaterThan(80);
    const page = repoFile("docs/configuration.md");
    const yamlComments = [...page.matchAll(/^```yaml\n([\s\S]*?)^```/gm)]
      .flatMap((m) => (m[1] ?? "").split("\n"))
      .map((line) => line.slice(line.indexOf("#") + 1 || line.length))
      .join("\n");
    const documented = (dotted: string) => {
      const leaf = literal(dotted.slice(dotted.lastIndexOf(".") + 1));
      return (
        new RegExp(`(?:^|[\\s{#,])${leaf}:`, "m").test(page) ||
        new RegExp(`\`(?:[\\w.*<>-]+\\.)?${leaf}\``).test(page) ||
        new RegExp(`(?<![\\w.-])${leaf}(?![\\w-])`).test(yamlComments)
      );
    };
    expect(missing(paths, documented)).toEqual([]);
  });

  it("every metric of the daemon's registry appears in docs/daemon.md", async () => {
    const { body } = await createDaemonMetrics({ version: "0.0.0-test", connections: ["prod"] }).text();
    const names = [...body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] ?? "");
    expect(names.length).toBeGreaterThan(20);
    const page = repoFile("docs/daemon.md");
    expect(page).toContain("plus the Node.js process metrics");
    // The page writes names without the common prefix, which it states once: `rotations_total{outcome,provider}`.
    expect(page).toContain("Every name has the `eca_rotator_` prefix");
    const short = names.map((n) => n.replace(/^eca_rotator_/, ""));
    expect(missing(short, (n) => new RegExp(`\`(?:eca_rotator_)?${literal(n)}[\`{]`).test(page))).toEqual([]);
  });

  it("every CLI command of src/cli/run-cli.ts has an entry in docs/cli.md, with each of its options", async () => {
    const page = repoFile("docs/cli.md");
    expect(COMMANDS.length).toBeGreaterThan(8);
    const commands = COMMANDS.map((c) => c.name);
    expect(missing(commands, (c) => new RegExp(`^- \`${literal(c)}[\\s\`]`, "m").test(page))).toEqual([]);
    const specs = await Promise.all(COMMANDS.map((c) => c.load()));
    const options = specs.flatMap((c) => Object.keys(c.options).map((o) => `${c.name} --${o}`));
    const optionDocumented = (entry: string) => {
      const [command = "", option = ""] = entry.split(" ");
      const item = new RegExp(`^- \`${literal(command)}[\\s\`][\\s\\S]*?(?=^- \`|(?![\\s\\S]))`, "m").exec(
        page,
      )?.[0];
      return item !== undefined && new RegExp(`${literal(option)}(?![\\w-])`).test(item);
    };
    expect(missing(options, optionDocumented)).toEqual([]);
  });

  it("every custom_metadata key the rotator reads has a row in docs/metadata.md's key table", () => {
    expect(POLICY_KEYS.length).toBeGreaterThan(20);
    const page = repoFile("docs/metadata.md");
    expect(
      missing(POLICY_KEYS, (k) => new RegExp(`^\\|[^|\\n]*\`${k}\`[^|\\n]*\\|`, "m").test(page)),
    ).toEqual([]);
  });
});
