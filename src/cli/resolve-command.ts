// `resolve PATH`: end a parked rotation that can never succeed, with KV naming the pair Salesforce treats as main.
import type { JournalSummary, ResolveOutcome } from "../core/rotation/resolve.ts";
import type { CommandSpec } from "./cli-io.ts";
import { EXIT, loadCliConfig } from "./cli-io.ts";
import { credentialPathArg, openRotationSession, reasonArg } from "./rotation-session.ts";

export const resolveCommand: CommandSpec = {
  name: "resolve",
  help: `Usage: eca-rotator resolve PATH [--reason TEXT] [--config FILE]

Ends the parked rotation of PATH (its journal says failed: max_attempts used up, or an error retrying cannot
fix) when resuming it with rotate=now can never succeed, for example because the staged set was deleted in
Setup during the soak, or KV was edited under it. It shows the journal (rotation id, mode, step, failed step,
last error; never a secret), then, under the credential's lease:
  1. asks Salesforce which consumer key is main now, and takes that pair's secret from what the rotator holds:
     KV's current version, the journal's new pair, or KV's previous_*. When none holds it, it refuses and
     changes nothing: put the working pair into KV by hand, then run resolve again;
  2. logs in with that pair (refused, nothing changed, when it does not log in);
  3. writes a KV version naming it as client_id/api_key with previous_* cleared (none when KV already does);
  4. deletes what the rotation left at Salesforce: its staged set when that never became main, and after a
     promotion the "rotated" record (which may keep the old pair alive). The main pair is never touched;
  5. stamps rotation_state=failed with last_rotation_error saying it was resolved (the rotation did not
     finish: nothing rotates it until rotate=now), audits rotation.resolved, tells chat (rotation.action_needed)
     and deletes the journal and the lease.
A rotation that is running, waiting for its soak or counting attempts is refused: let it finish, or roll it back.
  --reason TEXT   why; copied into the audit event, the notification and last_rotation_error
Exit 0 when resolved, 1 when refused or failed, 2 on a usage or config error.`,
  options: { reason: { type: "string" } },
  positionals: "PATH",
  async run(ctx) {
    const reason = reasonArg(ctx);
    const cfg = loadCliConfig(ctx);
    const path = credentialPathArg(ctx, cfg, "resolve");
    const session = await openRotationSession(ctx, cfg, { chat: true });
    try {
      const out = await session.stack.resolve(path, { actor: "cli", trigger: "cli", reason });
      ctx.io.stdout.write(`${describeResolve(out)}\n`);
      return out.kind === "resolved" ? EXIT.ok : EXIT.failed;
    } finally {
      await session.close();
    }
  },
};

/** The journal as shown before it goes, then what resolve did or why it refused. */
function describeResolve(out: ResolveOutcome): string {
  const lines = out.journal === undefined ? [] : [describeJournal(out.journal)];
  if (out.kind === "refused") {
    lines.push(`refused: ${out.path}: ${out.code}: ${out.message}`);
    return lines.join("\n");
  }
  const main =
    out.main === "new"
      ? "the rotation's new pair"
      : out.main === "old"
        ? "the pair from before the rotation"
        : "a pair the rotation did not make or start from";
  const kv =
    out.kvVersion === undefined
      ? "KV already named it"
      : `KV version ${out.kvVersion} names it, previous_* cleared`;
  const staged =
    out.stagedDeleted === 0 ? "" : `; ${out.stagedDeleted} staged record(s) the rotation left deleted`;
  lines.push(
    `resolved: ${out.path}: Salesforce's main pair is ${main} (key fingerprint ${out.keyFingerprint}); ${kv}${staged}; ` +
      "journal and lease deleted; rotation_state=failed until rotate=now starts a new rotation",
  );
  return lines.join("\n");
}

function describeJournal(j: JournalSummary): string {
  const at = j.failedStep === undefined ? j.step : `${j.step} at ${j.failedStep}`;
  const why = j.reason === undefined ? "" : `, reason: ${j.reason}`;
  return (
    `journal: rotation ${j.rotationId} (${j.provider}, ${j.mode}, ${j.trigger} by ${j.actor}${why}), ` +
    `started ${j.startedAt.toISOString()}, last written ${j.updatedAt.toISOString()}; step ${at}` +
    `${j.lastError === undefined ? "" : `; last error: ${j.lastError}`}`
  );
}
