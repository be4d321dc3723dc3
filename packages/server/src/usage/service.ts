import type { Environment } from '../crypto';
import type { LiveEvents } from '../events/service';
import { uuidv7 } from '../ids';
import { bumpStatements, sessionScopeKey } from '../memory/bump';
import type { Pricing } from '../pricing';
import type { Statement, Store, UsageRecord } from '../store';

/** One usage event as received (validated). */
export interface UsageInput {
  model: string;
  promptTokens: number;
  completionTokens: number;
  sessionId: string | null;
  /** When the LLM call happened (ms); defaults to now. */
  occurredAt?: number;
  /** The budget reservation (`POST /v1/model-calls/check`) this call settles. */
  reservationId?: string;
}

/** What counts usage against budgets (the budgets room), in the usage's own commit. */
export interface UsageBudgets {
  usageStatements(
    agentId: string,
    environment: Environment,
    settlements: readonly {
      usageId: string;
      sessionId: string | null;
      costUsd: number;
      tokens: number;
      createdAt: number;
      reservationId?: string;
    }[],
  ): Promise<{
    statements: Statement[];
    /** Called once the statements are committed, or their commit failed. */
    written: () => void;
  }>;
}

/** Records token usage with its cost, priced at write time from the pricing table. */
export class UsageService {
  private readonly clock: () => number;

  constructor(
    private readonly store: Store,
    readonly pricing: Pricing,
    private readonly events: LiveEvents,
    options: { clock?: () => number; budgets?: UsageBudgets } = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.budgets = options.budgets;
  }

  private readonly budgets: UsageBudgets | undefined;

  /**
   * Prices and stores usage events (all or none) with their daily totals, in the group commit
   * of their turn. Resolves after the commit.
   */
  async record(
    agentId: string,
    environment: Environment,
    inputs: readonly UsageInput[],
  ): Promise<UsageRecord[]> {
    const now = this.clock();
    // `receivedAt`: the server's clock, which an agent cannot set (agent.cost_usd windows).
    const records = inputs.map((input): UsageRecord => {
      const cost = this.pricing.cost(input.model, input.promptTokens, input.completionTokens);
      return {
        seq: 0,
        id: uuidv7(now),
        agentId,
        environment,
        sessionId: input.sessionId,
        model: input.model,
        promptTokens: input.promptTokens,
        completionTokens: input.completionTokens,
        costUsd: cost.costUsd,
        rateFound: cost.rateFound,
        createdAt: input.occurredAt ?? now,
        receivedAt: now,
      };
    });
    // The events and their daily totals, all or none, in a group commit of their own: a
    // check's commit never waits on the lock of a daily total another replica is updating.
    if (records.length > 0) {
      // Budgets count the spend (and settle reservations) in the same commit: none is lost.
      const budget = this.budgets
        ? await this.budgets.usageStatements(
            agentId,
            environment,
            records.map((record, index) => ({
              usageId: record.id,
              sessionId: record.sessionId,
              costUsd: record.costUsd,
              tokens: record.promptTokens + record.completionTokens,
              createdAt: record.createdAt,
              reservationId: inputs[index]?.reservationId,
            })),
          )
        : undefined;
      try {
        await this.store.usageCommitter.submitAll([
          ...this.store.usage.writeStatements(records),
          ...(budget?.statements ?? []),
          // PostgreSQL: each session's spend changed, so its memory version moves in this
          // commit (a replica keeps a session's spend as of its version: memory/bump.ts).
          ...(this.store.database.dialect === 'postgres'
            ? bumpStatements(
                records.flatMap((record) =>
                  record.sessionId === null
                    ? []
                    : [sessionScopeKey(agentId, environment, record.sessionId)],
                ),
              )
            : []),
        ]);
      } finally {
        budget?.written();
      }
    }
    this.events.emit({ type: 'usage.recorded', usage: records });
    return records;
  }
}
