// Access tokens (sessions), the per-user login rate and the daily API counter of the simulated org.
import { newAccessToken } from "./sim-ids.ts";
import type { SimOrgState, SimSession } from "./sim-state.ts";

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

export function issueSession(
  state: SimOrgState,
  userId15: string,
  appId15: string,
  clientKey: string,
  now: number,
) {
  const session: SimSession = {
    token: newAccessToken(state.orgId15),
    userId15,
    appId15,
    clientKey,
    issuedAt: now,
    revoked: false,
  };
  state.sessions.push(session);
  return session;
}

/** A usable session: known, not revoked, younger than the session timeout. Rotation does not end sessions. */
export function liveSession(
  state: SimOrgState,
  token: string,
  timeoutMs: number,
  now: number,
): SimSession | undefined {
  const s = state.sessions.find((x) => x.token === token);
  if (!s || s.revoked || now - s.issuedAt >= timeoutMs) return undefined;
  return s;
}

/** Forgets sessions that can never be used again, so a long-running simulator stays small. */
export function pruneSessions(state: SimOrgState, timeoutMs: number, now: number): void {
  state.sessions = state.sessions.filter((s) => !s.revoked && now - s.issuedAt < timeoutMs);
}

export function bearerToken(authorization: string | undefined): string | undefined {
  const m = /^(?:Bearer|OAuth)\s+(\S+)\s*$/i.exec(authorization ?? "");
  return m?.[1];
}

/** Counts a login for the user; false when the trailing hour already holds `perHour` of them. */
export function recordLogin(state: SimOrgState, userId15: string, perHour: number, now: number): boolean {
  const recent = (state.logins[userId15] ?? []).filter((t) => now - t < HOUR_MS);
  if (recent.length >= perHour) {
    state.logins[userId15] = recent;
    return false;
  }
  recent.push(now);
  state.logins[userId15] = recent;
  return true;
}

/** The daily window restarts 24 h after it began (a simplification of Salesforce's rolling 24 h). */
export function apiUsage(state: SimOrgState, now: number): { used: number } {
  if (now - state.api.windowStart >= DAY_MS || now < state.api.windowStart) {
    state.api = { windowStart: now, used: 0 };
  }
  return state.api;
}

/** Counts one REST call; false (and not counted) when the daily limit is already used up. */
export function countApiCall(state: SimOrgState, max: number, now: number): boolean {
  const usage = apiUsage(state, now);
  if (usage.used >= max) return false;
  usage.used += 1;
  state.counters.apiCalls += 1;
  return true;
}
