import type { Environment } from '../crypto';
import type { BudgetRecord } from './repository';

/** How many agent and environment pairs the cache holds before it starts over. */
const MAX_ENTRIES = 10_000;

/**
 * The budgets that apply to an agent's calls in an environment, cached for the hot path: every
 * tool check asks, and most agents have none. Only the definitions are cached — what a budget
 * has spent or reserved is read from its counter each time a budget applies. Dropped whole on
 * every change to any budget (made through `BudgetService`, on this replica or, through
 * PostgreSQL NOTIFY, on another), and re-read after `revalidateMs` as the safety net for a lost
 * notification — as the compiled policy sets are.
 */
export class ApplicableBudgetCache {
  readonly #entries = new Map<string, { budgets: BudgetRecord[]; loadedAt: number }>();
  // Reads under way: checks that miss at once share one (and go on together).
  readonly #loading = new Map<string, Promise<BudgetRecord[]>>();
  // A read that started before a change must not store what it read after the change dropped
  // the cache: it is stored only when no change came in between.
  #generation = 0;

  constructor(
    private readonly load: (agentId: string, environment: Environment) => Promise<BudgetRecord[]>,
    private readonly clock: () => number,
    private readonly revalidateMs = 30_000,
  ) {}

  async get(agentId: string, environment: Environment): Promise<BudgetRecord[]> {
    const key = `${agentId}\u0000${environment}`;
    const now = this.clock();
    const entry = this.#entries.get(key);
    if (entry && Math.abs(now - entry.loadedAt) < this.revalidateMs) return entry.budgets;
    const loading = this.#loading.get(key);
    if (loading) return loading;
    const generation = this.#generation;
    const load = this.load(agentId, environment)
      .then((budgets) => {
        if (generation === this.#generation) {
          if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
          this.#entries.set(key, { budgets, loadedAt: now });
        }
        return budgets;
      })
      .finally(() => {
        if (this.#loading.get(key) === load) this.#loading.delete(key);
      });
    this.#loading.set(key, load);
    return load;
  }

  /** Forgets every cached list. */
  invalidate(): void {
    this.#generation++;
    this.#entries.clear();
    // A read under way may have started before the change: the next check reads again.
    this.#loading.clear();
  }
}
