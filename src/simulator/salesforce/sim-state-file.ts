// Optional persistence: the org survives a restart. Written atomically (temp file + rename) after each request.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { RotatorError } from "../../core/errors.ts";
import type { SimOrgState } from "./sim-state.ts";

const FORMAT = "eca-rotator/salesforce-simulator-state@1";

export function loadStateFile(file: string): SimOrgState | undefined {
  if (!existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    // The file holds (fake) secrets: say where and why, never what.
    throw new RotatorError("CONFIG_INVALID", `simulator state file ${file} is not readable JSON`, {
      cause: err,
    });
  }
  const s = parsed as Partial<SimOrgState> | null;
  if (
    s === null ||
    typeof s !== "object" ||
    s.format !== FORMAT ||
    !Array.isArray(s.apps) ||
    !Array.isArray(s.users) ||
    !Array.isArray(s.sessions)
  ) {
    throw new RotatorError("CONFIG_INVALID", `simulator state file ${file} is not a ${FORMAT} file`);
  }
  return s as SimOrgState;
}

export function saveStateFile(file: string, state: SimOrgState): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}
