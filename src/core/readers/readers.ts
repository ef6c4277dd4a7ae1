// Who reads each credential, learnt from Vault's audit device: for every (credential path, reader) the version
// that reader's latest successful KV read returned and when. Readers are identified the way Vault's audit entry
// does: the identity entity when the token has one, else the token's display name and the HMAC of its accessor
// (stable per token, never the accessor itself). Nothing else from an audit entry is kept: request and response
// bodies hold HMACs of secrets, and a reader's label is shown to people, so it is cut to a safe length and
// character set before it gets here.
//
// Promotion by evidence: a standard rotation that publishes version P at time T may promote once every reader seen
// in the window before T (their latest read at or after T - window) has read a version at or after P. The judge
// below is pure; the soak step calls it with what the ReaderEvidence port returns.

/** How far back a reader counts as one of a credential's readers (config readers.window). */
export const DEFAULT_READERS_WINDOW_MS = 7 * 24 * 3_600_000;

/** One reader's latest read of one credential. */
export interface ReaderSeen {
  /** Stable identity: "entity:<entity_id>" or "token:<display_name>:<accessor hmac>". Never a secret. */
  readonly id: string;
  /** For people: the entity's or token's display name (safe characters only, at most 128). */
  readonly label: string;
  /** The KV version the latest read returned. */
  readonly version: number;
  /** When the latest read happened (the audit entry's time). */
  readonly at: Date;
}

/** What the rotation engine asks of the reader feed (an adapter over the shared reader entries). */
export interface ReaderEvidence {
  /**
   * Every reader of `path` whose latest read is at or after `since`, one entry per reader. Resolves with what this
   * replica and the others have shared so far; throws a retryable RotatorError when the shared entries cannot be
   * read (a Vault outage): the soak then simply waits longer, it never promotes on missing evidence.
   */
  readersOf(path: string, since: Date): Promise<readonly ReaderSeen[]>;
}

/**
 * Every credential's readers at once, for the inventory: one read of the shared entries per scan, never one
 * per credential. Throws like ReaderEvidence when the shared entries cannot be read.
 */
export interface ReaderDirectory {
  /** Credential path → its readers whose latest read is at or after `since` (paths with none are absent). */
  allReaders(since: Date): Promise<ReadonlyMap<string, readonly ReaderSeen[]>>;
}

/** The judgement for one published version: who has moved to it and who has not. */
export interface ReaderJudgement {
  /** Readers whose latest read returned the published version or a later one. */
  readonly moved: readonly ReaderSeen[];
  /** Readers seen in the window whose latest read still returned an older version. */
  readonly lagging: readonly ReaderSeen[];
  /** True when nobody lags (also when nobody was seen: there is no reader to wait for). */
  readonly allMoved: boolean;
}

/**
 * Judges the readers of a credential whose new pair was published as `publishedVersion` at `publishedAt`.
 * `seen` is what ReaderEvidence.readersOf(path, publishedAt - windowMs) returned; readers whose latest read is
 * older than that are ignored here too, so a caller may pass a wider list.
 */
export function judgeReaders(
  seen: readonly ReaderSeen[],
  publishedVersion: number,
  publishedAt: Date,
  windowMs: number,
): ReaderJudgement {
  const since = publishedAt.getTime() - windowMs;
  const moved: ReaderSeen[] = [];
  const lagging: ReaderSeen[] = [];
  for (const r of seen) {
    if (r.at.getTime() < since) continue;
    (r.version >= publishedVersion ? moved : lagging).push(r);
  }
  const byLabel = (a: ReaderSeen, b: ReaderSeen) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0);
  moved.sort(byLabel);
  lagging.sort(byLabel);
  return { moved, lagging, allMoved: lagging.length === 0 };
}
