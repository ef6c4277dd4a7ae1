// "Sent once per period even with several replicas": before sending the weekly report a replica
// claims the period in Vault with check-and-set. The entry <state_prefix>/reports/weekly holds the last
// claimed period; whoever moves it forward with the version it read sends, every other replica's CAS fails.
// A claim is made before sending: a crash between claim and send loses that week's message rather than sending
// it twice, and the log and metrics say so (the report can always be produced by `report`).
import type { KvV2 } from "../adapters/vault/kv-v2.ts";
import { RotatorError } from "../core/errors.ts";

export async function claimReportPeriod(
  kv: Pick<KvV2, "readData" | "writeData">,
  entryPath: string,
  period: string,
  owner: string,
  now: Date,
): Promise<boolean> {
  const found = await kv.readData(entryPath);
  const last = found?.data?.["period"];
  if (typeof last === "string" && last >= period) return false;
  try {
    await kv.writeData(
      entryPath,
      { period, claimed_by: owner, claimed_at: now.toISOString() },
      { cas: found === undefined ? 0 : found.version },
    );
    return true;
  } catch (err) {
    if (err instanceof RotatorError && err.code === "VAULT_CAS_CONFLICT") return false;
    throw err;
  }
}

/** The period a scheduled run belongs to: its UTC date and time to the minute ("2026-11-23T09:00Z"). */
export function reportPeriod(scheduledAt: Date): string {
  return `${scheduledAt.toISOString().slice(0, 16)}Z`;
}
