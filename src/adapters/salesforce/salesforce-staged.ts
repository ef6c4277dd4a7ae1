// Staged-credential bodies → StagedCredential: states compared case-insensitively
// (the docs capitalise them, the wire does not), an unknown state refused, secrets wrapped in SecretValue.
import { SecretValue } from "../../core/secret-value.ts";
import type { IssuedStagedCredential, StagedCredential, StagedState } from "./salesforce-eca-types.ts";
import { type SalesforceCall, unexpectedResponse } from "./salesforce-errors.ts";
import type { StagedBody } from "./salesforce-schemas.ts";

const STAGED_STATES: readonly StagedState[] = ["active", "rotated", "expired"];

export function toStaged(
  s: StagedBody,
  call: SalesforceCall,
  status: number,
  uncertain: boolean,
): StagedCredential {
  const state = s.state.toLowerCase() as StagedState;
  if (!STAGED_STATES.includes(state)) {
    throw unexpectedResponse(call, status, "a staged set has an unknown state", { uncertain });
  }
  return {
    id: s.id,
    state,
    key: s.key,
    secret: s.secret === undefined ? undefined : SecretValue.of(s.secret),
    createdBy: s.createdBy ?? undefined,
    createdDate: s.createdDate ?? undefined,
    expirationDate: s.expirationDate ?? undefined,
    url: s.url ?? undefined,
  };
}

/** Exactly one staged set in a POST / PATCH answer; anything else leaves the outcome unknown. */
export function onlyStaged(
  items: readonly StagedBody[],
  call: SalesforceCall,
  status: number,
  expected: StagedState,
): StagedCredential {
  const first = items[0];
  if (items.length !== 1 || !first) {
    throw unexpectedResponse(call, status, `expected one staged set, got ${items.length}`, {
      uncertain: true,
    });
  }
  const staged = toStaged(first, call, status, true);
  if (staged.state !== expected) {
    throw unexpectedResponse(call, status, `the staged set is ${staged.state}, expected ${expected}`, {
      uncertain: true,
    });
  }
  return staged;
}

export function requirePair(
  s: StagedCredential,
  call: SalesforceCall,
  status: number,
): IssuedStagedCredential {
  if (!s.key || !s.secret) {
    throw unexpectedResponse(call, status, "the new staged set comes without key and secret", {
      uncertain: true,
    });
  }
  return { ...s, key: s.key, secret: s.secret };
}
