// `rollback PATH`: before promotion, delete the staged pair and make the old pair current in KV again.

import type { CommandSpec } from "./cli-io.ts";
import { EXIT, loadCliConfig } from "./cli-io.ts";
import { describeOutcome } from "./outcome-text.ts";
import { credentialPathArg, openRotationSession, reasonArg } from "./rotation-session.ts";

export const rollbackCommand: CommandSpec = {
  name: "rollback",
  help: `Usage: eca-rotator rollback PATH [--reason TEXT] [--config FILE]

Rolls back the unfinished rotation of PATH while Salesforce still treats the old pair as main (before
promotion, e.g. during the soak): deletes the staged pair at Salesforce and writes a KV version that makes
the old pair current again. The credential is then marked rotation_state=failed with the reason, so nothing
rotates it again until an operator sets rotate=now. After promotion there is no way back (refused); an
emergency rotation is never rolled back.
  --reason TEXT   why; copied into the journal, audit, notifications and last_rotation_error
Exit 0 when rolled back, 1 when refused or failed, 2 on a usage or config error.`,
  options: { reason: { type: "string" } },
  positionals: "PATH",
  async run(ctx) {
    const reason = reasonArg(ctx);
    const cfg = loadCliConfig(ctx);
    const path = credentialPathArg(ctx, cfg, "rollback");
    const session = await openRotationSession(ctx, cfg);
    try {
      const outcome = await session.stack.engine.rollback(path, { actor: "cli", reason });
      ctx.io.stdout.write(`${describeOutcome(outcome)}\n`);
      return outcome.kind === "rolled_back" ? EXIT.ok : EXIT.failed;
    } finally {
      await session.close();
    }
  },
};
