// Reads and parses the YAML file. Problems name the file and a line, never its content: yaml's own messages
// quote the offending source, which may be the line holding a pasted secret.
import { isMap, parseDocument } from "yaml";

export type FileResult =
  | { readonly ok: true; readonly value: Record<string, unknown> }
  | { readonly ok: false; readonly problems: readonly string[] };

export function readConfigFile(file: string, readFile: (path: string) => string): FileResult {
  let text: string;
  try {
    text = readFile(file);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const why = typeof code === "string" && /^E[A-Z]+$/.test(code) ? code : "unreadable";
    return { ok: false, problems: [`config file ${file}: cannot be read (${why})`] };
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      const where = pos === undefined ? "" : ` line ${pos.line}, column ${pos.col}`;
      return `config file${where}: YAML syntax error (${e.code.toLowerCase().replaceAll("_", " ")})`;
    });
    return { ok: false, problems: [...new Set(problems)] };
  }
  if (doc.contents !== null && !isMap(doc.contents)) {
    return { ok: false, problems: ["config file: must be a YAML mapping (key: value) at the top level"] };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch {
    return {
      ok: false,
      problems: ["config file: YAML could not be resolved (too many or unresolved aliases)"],
    };
  }
  return { ok: true, value: dropNulls(value ?? {}) as Record<string, unknown> };
}

/** `key:` with nothing after it is YAML null; treat it as "not set" so defaults and the environment apply. */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = dropNulls(v);
    return out;
  }
  return value;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
