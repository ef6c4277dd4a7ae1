// `adopt PATH`: make PATH the only path that rotates its credential's external consumer (a Salesforce app
// consumer or a Marketing Cloud package), after proving that PATH's KV holds the working secret.

import type { CommandSpec } from "./cli-io.ts";
import { EXIT, loadCliConfig } from "./cli-io.ts";
import { credentialPathArg, openRotationSession, reasonArg } from "./rotation-session.ts";

export const adoptCommand: CommandSpec = {
  name: "adopt",
  help: `Usage: eca-rotator adopt PATH [--reason TEXT] [--config FILE]

Each external consumer (a Salesforce External Client App consumer, a Marketing Cloud installed package) is
rotated from exactly one KV path, its owner, recorded under the state prefix the first time a path proves it
holds the consumer's working secret. Another path naming the same consumer is refused with
POLICY_CONSUMER_OWNED. adopt moves the consumer to PATH, for example after the credential moved to a new path:
  - PATH's metadata must choose a configured connection or tenant that PATH may use;
  - the secret in PATH's KV must work: a Salesforce login with client_id/api_key (the consumer key must be the
    one Salesforce treats as main), or a Marketing Cloud token for client_id with api_key;
  - no rotation of PATH or of the current owner may be unfinished.
The change is written with check-and-set and recorded as a consumer.adopted audit event naming both paths.
  --reason TEXT   why; copied into the audit event
Exit 0 when PATH owns the consumer (now or already), 1 when refused, 2 on a usage or config error.`,
  options: { reason: { type: "string" } },
  positionals: "PATH",
  async run(ctx) {
    const reason = reasonArg(ctx);
    const cfg = loadCliConfig(ctx);
    const path = credentialPathArg(ctx, cfg, "adopt");
    const session = await openRotationSession(ctx, cfg);
    try {
      const out = await session.stack.engine.adopt(path, { actor: "cli", trigger: "cli", reason });
      switch (out.kind) {
        case "adopted":
          ctx.io.stdout.write(
            `adopted: ${path} now owns ${out.subject}${out.previousOwner === undefined ? "" : ` (was ${out.previousOwner})`}\n`,
          );
          return EXIT.ok;
        case "unchanged":
          ctx.io.stdout.write(`unchanged: ${path} already owns ${out.subject}\n`);
          return EXIT.ok;
        case "refused":
          ctx.io.stdout.write(`refused: ${path}: ${out.code}: ${out.message}\n`);
          return EXIT.failed;
      }
    } finally {
      await session.close();
    }
  },
};
