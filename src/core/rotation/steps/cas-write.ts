// The one way a step writes a credential's KV data: read the current version, decide, write with cas against
// the version read. A cas conflict means someone wrote between our read and our write: read again and decide
// again (never a blind retry), at most CAS_RETRIES times. `decide` throws to refuse (a value someone else
// wrote), or returns undefined when the version read needs no write (our own earlier write whose answer was
// lost, or a step already done).
import { isRotatorError } from "../../errors.ts";
import type { SecretValue } from "../../secret-value.ts";
import type { RotationRun } from "../engine-deps.ts";
import type { StoredCredential } from "../rotation-ports.ts";

const CAS_RETRIES = 3;

export type FieldWrite = Readonly<Record<string, string | SecretValue>>;

/** The version that now holds the decision, and the credential as read before it. */
export async function writeWithCas(
  run: RotationRun,
  decide: (cred: StoredCredential) => FieldWrite | undefined,
  /** The credential as the caller has just read it: the first decision uses it instead of a read. */
  first?: StoredCredential,
): Promise<{ version: number; cred: StoredCredential }> {
  for (let i = 0; ; i++) {
    const cred = i === 0 && first !== undefined ? first : await run.readCredential();
    const fields = decide(cred);
    if (fields === undefined) return { version: cred.version, cred };
    await run.guard();
    try {
      const { version } = await run.deps.store.writeFields(run.path, fields, cred.version);
      return { version, cred };
    } catch (err) {
      if (!isRotatorError(err, "VAULT_CAS_CONFLICT") || i + 1 >= CAS_RETRIES) throw err;
    }
  }
}
