// The version in package.json, for --version and serve's metrics and status page. Resolved relative to this file,
// so it works from src/ (node src/cli.ts) and from dist/ alike.
import { readFile } from "node:fs/promises";

export async function packageVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}
