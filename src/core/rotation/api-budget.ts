// The per-connection request budget: Salesforce counts API calls per org and day and refuses every
// call over the limit with 403 REQUEST_LIMIT_EXCEEDED, which would also break the
// integrations whose credentials we rotate. So the scheduler slows down well before: each answer carries
// `Sforce-Limit-Info: api-usage=used/max`, and new rotations are paced by how much of the day's limit is gone.
// Resumes are never held back: an unfinished rotation costs a few calls and leaving it half done is worse.
// Emergencies still start above the stop point: a leaked secret outweighs the org's API budget.

export interface ApiBudget {
  /** Fraction of the daily limit above which at most one new rotation per connection starts per cycle. */
  readonly slowAt: number;
  /** Fraction above which no new standard rotation starts. */
  readonly stopAt: number;
}

export type BudgetLevel = "normal" | "slow" | "stop";

export function budgetLevel(
  usage: { used: number; max: number } | undefined,
  budget: ApiBudget,
): BudgetLevel {
  // Before the first answer there is nothing to go by: the first rotation's calls will tell.
  if (usage === undefined || usage.max <= 0) return "normal";
  const ratio = usage.used / usage.max;
  if (ratio >= budget.stopAt) return "stop";
  if (ratio >= budget.slowAt) return "slow";
  return "normal";
}

export interface BudgetCandidate {
  readonly connection: string | undefined;
  readonly emergency: boolean;
}

/**
 * Which candidates may start this cycle, in their given order: all under "normal"; the first per connection
 * under "slow"; only emergencies under "stop". Returns the kept indexes and, per held-back index, why.
 */
export function applyBudget(
  candidates: readonly BudgetCandidate[],
  levelOf: (connection: string | undefined) => BudgetLevel,
): { readonly start: readonly number[]; readonly held: ReadonlyMap<number, string> } {
  const start: number[] = [];
  const held = new Map<number, string>();
  const startedOn = new Set<string | undefined>();
  candidates.forEach((c, i) => {
    const level = levelOf(c.connection);
    if (c.emergency || level === "normal") {
      start.push(i);
    } else if (level === "stop") {
      held.set(
        i,
        "Salesforce API usage is above rotation.api_budget.stop_at: held until the daily count falls",
      );
    } else if (startedOn.has(c.connection)) {
      held.set(i, "Salesforce API usage is above rotation.api_budget.slow_at: one new rotation per cycle");
    } else {
      start.push(i);
    }
    if (level !== "normal" && start.at(-1) === i) startedOn.add(c.connection);
  });
  return { start, held };
}
