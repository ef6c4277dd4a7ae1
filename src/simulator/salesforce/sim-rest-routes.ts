// `/services/data/...`: Bearer session, the daily API counter, the version prefix, then the resource.
import { nowMs, type SimContext } from "./sim-context.ts";
import { handleEcaRoute } from "./sim-eca-routes.ts";
import { invalidSession, limitExceeded, notFound } from "./sim-errors.ts";
import { header, json, type SimReply, type SimRequest } from "./sim-http.ts";
import { apiUsage, bearerToken, countApiCall, liveSession } from "./sim-sessions.ts";

const MIN_VERSION = 20;

export function handleData(ctx: SimContext, req: SimRequest): SimReply {
  if (req.path === "/services/data" || req.path === "/services/data/") return versionList(ctx);
  const m = /^\/services\/data\/v(\d{2})\.0(\/.*)?$/.exec(req.path);
  const token = bearerToken(header(req, "authorization"));
  const now = nowMs(ctx);
  const session =
    token === undefined ? undefined : liveSession(ctx.state, token, ctx.settings.sessionTimeoutMs, now);
  if (!session) return invalidSession();
  if (!countApiCall(ctx.state, ctx.settings.dailyApiLimit, now)) return limitExceeded();
  const version = Number(m?.[1] ?? 0);
  if (!m || version < MIN_VERSION || version > ctx.settings.maxApiVersion) return notFound();
  const rest = (m[2] ?? "/").replace(/\/+$/, "");
  if (rest === "") return resourceList(version);
  if (rest === "/limits") return req.method === "GET" ? limits(ctx) : notFound();
  if (rest.startsWith("/apps/oauth/")) {
    const segments = rest.slice("/apps/oauth/".length).split("/").map(decodeSegment);
    return handleEcaRoute({ ctx, req, version, session }, segments);
  }
  return notFound();
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function versionList(ctx: SimContext): SimReply {
  const versions = [];
  for (let v = 59; v <= ctx.settings.maxApiVersion; v++) {
    versions.push({ label: `v${v}.0`, url: `/services/data/v${v}.0`, version: `${v}.0` });
  }
  return json(200, versions);
}

function resourceList(version: number): SimReply {
  const base = `/services/data/v${version}.0`;
  return json(200, { connect: `${base}/connect`, limits: `${base}/limits` });
}

function limits(ctx: SimContext): SimReply {
  const max = ctx.settings.dailyApiLimit;
  const used = apiUsage(ctx.state, nowMs(ctx)).used;
  return json(200, {
    DailyApiRequests: { Max: max, Remaining: Math.max(0, max - used) },
    DailyAsyncApexExecutions: { Max: 250000, Remaining: 250000 },
    DailyBulkApiRequests: { Max: 10000, Remaining: 10000 },
    DataStorageMB: { Max: 1024, Remaining: 1024 },
    FileStorageMB: { Max: 1024, Remaining: 1024 },
  });
}
