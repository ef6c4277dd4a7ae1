import { readFileSync } from "node:fs";
import path from "node:path";
import type { Config } from "../config/config-types.ts";
import { loadConfig } from "../config/load-config.ts";
import type { CommandContext } from "./cli-io.ts";

/** --config FILE, else $ECA_ROTATOR_CONFIG, else no file (Vault's standard variables and defaults). */
export function loadCliConfig(ctx: CommandContext): Config {
  const flag = ctx.values["config"];
  const file = typeof flag === "string" ? flag : ctx.io.env["ECA_ROTATOR_CONFIG"] || undefined;
  return loadConfig({
    ...(file === undefined ? {} : { file: path.resolve(ctx.io.cwd, file) }),
    env: ctx.io.env,
    readFile: (p) => readFileSync(p, "utf8"),
  });
}
