/** A mistake on the command line: printed as one line plus a pointer to --help, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
