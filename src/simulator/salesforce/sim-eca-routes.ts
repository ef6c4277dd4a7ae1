// Connect REST `/services/data/vNN.0/apps/oauth/...`: the usage listing, consumers, `?part=`, staged
// GET/POST/DELETE and PATCH rotate, with field names, nesting and key order as on the wire.
import { nowMs, type SimContext } from "./sim-context.ts";
import { invalidInput, malformedJson, notFound, restError } from "./sim-errors.ts";
import { json, jsonBody, noContent, type SimReply, type SimRequest, sfDate } from "./sim-http.ts";
import { to15, to18 } from "./sim-ids.ts";
import {
  findApp,
  findConsumer,
  findUser,
  promoteStaged,
  type SimApp,
  type SimConsumer,
  type SimSession,
  type SimStaged,
  stageCredentials,
} from "./sim-state.ts";

/** First API version of each resource family; older versions answer 404 as if the resource did not exist. */
const SINCE = { usage: 59, credentials: 60, staged: 65 } as const;

interface Route {
  readonly ctx: SimContext;
  readonly req: SimRequest;
  readonly version: number;
  readonly session: SimSession;
}

export function handleEcaRoute(r: Route, segments: readonly string[]): SimReply {
  const [family, appId, consumerId, stagedWord, stagedId, ...extra] = segments;
  if (extra.length > 0) return notFound();
  if (family === "usage" && appId === undefined) {
    return gated(r, "usage", ["GET"], false, () => usageListing(r));
  }
  if (family !== "credentials" || appId === undefined) return notFound();
  if (consumerId === undefined) {
    return gated(r, "credentials", ["GET"], false, () => withApp(r, appId, (app) => consumerList(r, app)));
  }
  if (stagedWord === undefined) {
    const wantsSecret = /secret/i.test(r.req.query.get("part") ?? "");
    return gated(r, "credentials", ["GET"], wantsSecret, () =>
      withConsumer(r, appId, consumerId, (app, c) => consumerCredentials(r, app, c)),
    );
  }
  if (stagedWord !== "staged") return notFound();
  if (stagedId === undefined) {
    return gated(r, "staged", ["GET", "POST"], true, () =>
      withConsumer(r, appId, consumerId, (app, c) =>
        r.req.method === "POST" ? postStaged(r, app, c) : stagedList(r, app, c),
      ),
    );
  }
  return gated(r, "staged", ["GET", "PATCH", "DELETE"], true, () =>
    withConsumer(r, appId, consumerId, (app, c) => oneStaged(r, app, c, stagedId)),
  );
}

/** Version gate, then method, then the caller's permissions, then (for secrets) the org setting. */
function gated(
  r: Route,
  family: keyof typeof SINCE,
  methods: readonly string[],
  needsSecretAccess: boolean,
  handler: () => SimReply,
): SimReply {
  if (r.version < SINCE[family]) return notFound();
  if (!methods.includes(r.req.method)) {
    return restError(
      405,
      "METHOD_NOT_ALLOWED",
      `HTTP Method '${r.req.method.replace(/[^A-Z]/g, "")}' not allowed. Allowed are ${methods.join(",")}`,
    );
  }
  const user = findUser(r.ctx.state, r.session.userId15);
  if (!user?.eccPerms) {
    return restError(
      403,
      "INSUFFICIENT_ACCESS",
      "You don't have the permissions External Client App Developer and View Client Secret.",
    );
  }
  if (needsSecretAccess && !r.ctx.settings.restSecretsEnabled) {
    return restError(
      403,
      r.ctx.settings.notEnabledErrorCode,
      "Access to External Client App consumer secrets via REST API is not currently enabled for this org.",
    );
  }
  return handler();
}

function withApp(r: Route, appId: string, fn: (app: SimApp) => SimReply): SimReply {
  const app = findApp(r.ctx.state, appId);
  return app ? fn(app) : notFound();
}

function withConsumer(
  r: Route,
  appId: string,
  consumerId: string,
  fn: (app: SimApp, c: SimConsumer) => SimReply,
): SimReply {
  return withApp(r, appId, (app) => {
    const c = findConsumer(app, consumerId);
    return c ? fn(app, c) : notFound();
  });
}

const base = (r: Route) => `/services/data/v${r.version}.0/apps/oauth`;
const consumerUrl = (r: Route, app: SimApp, c: SimConsumer) =>
  `${base(r)}/credentials/${to18(app.id15)}/${to18(c.id15)}`;

function usageListing(r: Route): SimReply {
  const page = intParam(r.req.query.get("page"), 0);
  const pageSize = intParam(r.req.query.get("pageSize"), 100);
  if (page === undefined || page < 0) return invalidInput("page must be a non-negative integer.");
  if (pageSize === undefined || pageSize < 1 || pageSize > 100) {
    return invalidInput("pageSize must be an integer between 1 and 100.");
  }
  const apps = r.ctx.state.apps.slice(page * pageSize, (page + 1) * pageSize).map((app) => ({
    accessTokenFormat: "opaque",
    availableActions: "disable, enable",
    description: null,
    developerName: app.developerName,
    identifier: app.id15,
    isFromPackage: false,
    usageDetailsUrl: `${base(r)}/usage/${app.id15}/users`,
  }));
  // nextPageUrl is present on every page, the last one too; past the end the page is empty (2.4).
  return json(200, {
    apps,
    currentPageUrl: `${base(r)}/usage?page=${page}&pageSize=${pageSize}`,
    nextPageUrl: `${base(r)}/usage?page=${page + 1}&pageSize=${pageSize}`,
  });
}

function intParam(raw: string | null, fallback: number): number | undefined {
  if (raw === null || raw === "") return fallback;
  return /^\d{1,9}$/.test(raw) ? Number(raw) : undefined;
}

function consumerList(r: Route, app: SimApp): SimReply {
  return json(200, {
    consumers: app.consumers.map((c) => ({
      id: to18(c.id15),
      key: c.primary.key,
      name: c.name,
      ...stagedUrlField(r, app, c),
      url: consumerUrl(r, app, c),
    })),
    currentPageUrl: `${base(r)}/credentials/${to18(app.id15)}`,
  });
}

function stagedUrlField(r: Route, app: SimApp, c: SimConsumer): { stagedCredentialsUrl?: string } {
  return r.version >= SINCE.staged ? { stagedCredentialsUrl: `${consumerUrl(r, app, c)}/staged` } : {};
}

/** Always the primary pair; the secret only when asked for, the key left out for `part=secret` (2.6). */
function consumerCredentials(r: Route, app: SimApp, c: SimConsumer): SimReply {
  const raw = r.req.query.get("part");
  const part = raw === null ? "key" : raw.toLowerCase();
  if (part !== "key" && part !== "secret" && part !== "keyandsecret") {
    return invalidInput("part must be one of key, secret, keyandsecret.");
  }
  return json(200, {
    id: to18(c.id15),
    ...(part === "secret" ? {} : { key: c.primary.key }),
    name: c.name,
    ...(part === "key" ? {} : { secret: c.primary.secret }),
    ...stagedUrlField(r, app, c),
    url: raw === null ? consumerUrl(r, app, c) : `${consumerUrl(r, app, c)}?part=${encodeURIComponent(raw)}`,
  });
}

function stagedObject(r: Route, app: SimApp, c: SimConsumer, s: SimStaged, url15 = false) {
  return {
    createdBy: s.createdBy,
    createdDate: sfDate(s.createdDate),
    expirationDate: sfDate(s.expirationDate),
    id: to18(s.id15),
    key: s.pair.key,
    secret: s.pair.secret,
    state: s.state,
    url: `${consumerUrl(r, app, c)}/staged/${url15 ? s.id15 : to18(s.id15)}`,
  };
}

function stagedList(r: Route, app: SimApp, c: SimConsumer): SimReply {
  return json(200, {
    stagedCredentials: c.staged ? [stagedObject(r, app, c, c.staged)] : [],
    url: `${consumerUrl(r, app, c)}/staged`,
  });
}

function postStaged(r: Route, app: SimApp, c: SimConsumer): SimReply {
  // Any body, none, `{}` or junk: the resource takes no input (2.7).
  const createdBy = findUser(r.ctx.state, r.session.userId15)?.username ?? "unknown";
  const { settings } = r.ctx;
  const result = stageCredentials(r.ctx.state, c, createdBy, settings.stagedPostWhenActive, nowMs(r.ctx));
  if (!result.ok) {
    return restError(
      409,
      "INVALID_OPERATION",
      "An active staged credential already exists for this consumer. It must be deleted before new credentials can be staged.",
    );
  }
  return json(settings.postStatus, {
    stagedCredentials: [stagedObject(r, app, c, result.staged, settings.stagedUrl15)],
    url: `${consumerUrl(r, app, c)}/staged`,
  });
}

function oneStaged(r: Route, app: SimApp, c: SimConsumer, stagedId: string): SimReply {
  const s = c.staged;
  if (!s || to15(stagedId) !== s.id15) return notFound();
  if (r.req.method === "GET") return json(200, stagedObject(r, app, c, s));
  if (r.req.method === "DELETE") {
    // An active set dies at once; a rotated record takes the former pair it keeps alive with it (overlap and
    // overlap-new-shown).
    delete c.staged;
    return noContent();
  }
  const body = jsonBody(r.req);
  if (!body.ok) return malformedJson();
  const command =
    body.value !== null && typeof body.value === "object"
      ? (body.value as Record<string, unknown>)["command"]
      : undefined;
  if (command !== "rotate") return invalidInput("command: the only supported value is rotate.");
  if (s.state !== "active") {
    return restError(
      409,
      "INVALID_OPERATION",
      `Only active staged credentials can be rotated; this one is ${s.state}.`,
    );
  }
  const { rotateSemantics, rotatedRecordNewId } = r.ctx.settings;
  const promoted = promoteStaged(r.ctx.state, c, rotateSemantics, nowMs(r.ctx), rotatedRecordNewId);
  return json(200, stagedObject(r, app, c, promoted));
}
