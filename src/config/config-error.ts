import { RotatorError } from "../core/errors.ts";

/**
 * The configuration is invalid. `problems` holds one `key.path: problem` line per problem (the message is the
 * same lines joined by newlines). No line ever contains a configured value: a secret could be anywhere.
 */
export class ConfigError extends RotatorError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super("CONFIG_INVALID", problems.join("\n"), {
      retryable: false,
      context: { problems: problems.length },
    });
    this.problems = problems;
  }
}
