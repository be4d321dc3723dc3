import type { Environment } from '../crypto';
import { NotFoundError, ValidationError } from '../errors';
import type { LiveEvents } from '../events/service';
import { uuidv7 } from '../ids';
import type { Logger } from '../logger';
import { bumpStatements, bumpVersions, sessionScopeKey } from '../memory/bump';
import type { Pricing } from '../pricing';
import type { ActionRecord, Store } from '../store';
import type { Queryable, Statement } from '../store/database';
import { ApplicableBudgetCache } from './applicable-cache';
import {
  addSpendStatement,
  type BudgetOnExceeded,
  type BudgetRecord,
  type BudgetRepository,
  type BudgetScope,
  budgetRepository,
  type CounterRecord,
  emptyCounter,
  type ReservationRecord,
  type ReservedFilter,
  settleStatements,
} from './repository';
import { SessionReservedSums } from './reserved-cache';
import { Reserver } from './reserver';

// Budgets: limits in dollars and/or tokens per session, per agent per UTC day, or per
// environment per UTC day or month. A model call is checked before it runs: its estimated cost
// is reserved against every applicable budget, all or nothing, under the counters' row locks (so
// replicas on one PostgreSQL never jointly exceed a limit; the checks of one turn together, see
// `reserver.ts`), and the usage record settles the reservation with the real cost. Reservations
// never settled expire.

/** Nanodollars in a dollar: money is counted in integers. */
export const nanosPerUsd = 1_000_000_000;

export const toNanos = (usd: number): number => Math.round(usd * nanosPerUsd);
export const toUsd = (nanos: number): number => Math.round(nanos) / nanosPerUsd;

/** How long a reservation is held when the check does not say (10 minutes). */
export const defaultReservationTtlSeconds = 600;
/** The longest a check may ask a reservation to be held (1 hour). */
export const maxReservationTtlSeconds = 3_600;

/** A budget as created or changed through the admin API. */
export interface BudgetInput {
  agentId: string | null;
  environment: Environment;
  scope: BudgetScope;
  name?: string | null;
  limitUsd?: number | null;
  limitTokens?: number | null;
  onExceeded?: BudgetOnExceeded;
}

/** One budget with its counter in the window a call falls in. */
export interface BudgetStanding {
  budget: BudgetRecord;
  windowKey: string;
  counter: CounterRecord;
}

/** A model call's check. */
export interface ModelCallCheck {
  model: string;
  estimatedInputTokens: number;
  maxOutputTokens: number;
  sessionId: string | null;
  ttlSeconds?: number;
}

/** The answer to a check: reserved (maybe against no budget), or refused by one budget. */
export type ReserveResult =
  | {
      decision: 'allow';
      reservation: ReservationRecord | undefined;
      usdNanos: number;
      tokens: number;
      priced: boolean;
      standings: BudgetStanding[];
    }
  | {
      decision: 'refuse';
      reason: 'budget_exceeded' | 'unpriced_model';
      usdNanos: number;
      tokens: number;
      priced: boolean;
      standing: BudgetStanding;
      message: string;
    };

/** What a usage record brings to budgets: its cost, tokens, and the reservation it settles. */
export interface UsageSettlement {
  usageId: string;
  sessionId: string | null;
  costUsd: number;
  tokens: number;
  /** The record's `occurred_at` (client time): never used to pick a budget's window. */
  createdAt: number;
  reservationId?: string;
}

/** A tool call's standing against the budgets of its session, agent and environment. */
export interface ToolGate {
  effect: BudgetOnExceeded;
  standing: BudgetStanding;
  message: string;
}

const dayMs = 86_400_000;

/** The window of a budget a call falls in; undefined when it does not apply (no session). */
export function windowKeyOf(
  scope: BudgetScope,
  agentId: string,
  sessionId: string | null,
  at: number,
): string | undefined {
  // A budget without an agent counts each agent's sessions and days apart: the agent is in the key.
  if (scope === 'session') return sessionId === null ? undefined : `${agentId}/${sessionId}`;
  const iso = new Date(at).toISOString();
  if (scope === 'agent_day') return `${agentId}/${iso.slice(0, 10)}`;
  return scope === 'environment_month' ? iso.slice(0, 7) : iso.slice(0, 10);
}

/** The time range (ms) of a non-session window, for adding up reservations. */
export function windowRange(scope: BudgetScope, at: number): { from: number; to: number } {
  if (scope === 'environment_month') {
    const date = new Date(at);
    const from = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
    const to = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
    return { from, to };
  }
  const from = Math.floor(at / dayMs) * dayMs;
  return { from, to: from + dayMs };
}

function isOver(budget: BudgetRecord, counter: CounterRecord): boolean {
  return (
    (budget.limitUsdNanos !== null &&
      counter.spentUsdNanos + counter.reservedUsdNanos >= budget.limitUsdNanos) ||
    (budget.limitTokens !== null &&
      counter.spentTokens + counter.reservedTokens >= budget.limitTokens)
  );
}

/** A budget in words, for messages: `session budget "Run cap" ($5.00)`. */
export function describeBudget(budget: BudgetRecord): string {
  const scope = {
    session: 'session',
    agent_day: "agent's daily",
    environment_day: "environment's daily",
    environment_month: "environment's monthly",
  }[budget.scope];
  const limits = [
    budget.limitUsdNanos === null ? undefined : `$${toUsd(budget.limitUsdNanos)}`,
    budget.limitTokens === null ? undefined : `${budget.limitTokens} tokens`,
  ].filter(Boolean);
  return `${scope} budget${budget.name ? ` "${budget.name}"` : ''} (${limits.join(', ')})`;
}

/**
 * A tool call's cost (a policy's `cost`) kept as a reservation of kind `tool` whose id is the
 * action's id: held until the action's own commit spends it (an allowed call, `chargeStatements`)
 * or until the call is approved (settled) or refused (given back); `force` takes it past the
 * limits (a call a budget holds for approval: the approver decides). Recorded even when no
 * budget applies, so that `session.cost_usd` and `agent.cost_usd(window)` count it.
 */
export interface ToolReservation {
  id?: string;
  force?: boolean;
  expiresAt?: number;
}

/** Budgets, reservations and their settlement. */
export class BudgetService {
  readonly repository: BudgetRepository;
  private sweeper: ReturnType<typeof setInterval> | undefined;
  private sweeping: Promise<number> | undefined;

  constructor(
    private readonly store: Store,
    private readonly pricing: Pricing,
    private readonly clock: () => number,
    private readonly logger?: Logger,
  ) {
    this.repository = budgetRepository(store.database);
    this.reserver = new Reserver(store.database);
    this.sessionReserved =
      store.database.dialect === 'sqlite' ? new SessionReservedSums() : undefined;
    this.applicable = new ApplicableBudgetCache(
      (agentId, environment) => this.repository.applicable(agentId, environment),
      clock,
    );
  }

  /** Makes the reservations of a turn together (see `reserver.ts`). */
  private readonly reserver: Reserver;
  /** The budget definitions of the hot paths (see `ApplicableBudgetCache`). */
  private readonly applicable: ApplicableBudgetCache;
  /**
   * The embedded store: sessions' reserved sums kept in this process (`reserved-cache.ts`);
   * every change to a reservation below is bracketed by its `changing()`.
   */
  private readonly sessionReserved: SessionReservedSums | undefined;
  private publish: (() => void) | undefined;

  /** Tells other replicas about changes to budgets (the server wires it to PostgreSQL NOTIFY). */
  onChange(publish: () => void): void {
    this.publish = publish;
  }

  /** Forgets the cached budget definitions (a change here or on another replica). */
  invalidate(): void {
    this.applicable.invalidate();
  }

  private changed(): void {
    this.invalidate();
    this.publish?.();
  }

  // ---- budgets as a resource -------------------------------------------------------------

  async list(filter: { environment?: Environment; agentId?: string } = {}) {
    return this.repository.list(filter);
  }

  async get(id: string): Promise<BudgetRecord> {
    const budget = await this.repository.get(id);
    if (!budget) {
      throw new NotFoundError(`No budget ${id.slice(0, 100)}. List them with GET /api/v1/budgets.`);
    }
    return budget;
  }

  async create(input: BudgetInput): Promise<BudgetRecord> {
    const now = this.clock();
    const budget: BudgetRecord = {
      id: uuidv7(now),
      agentId: input.agentId,
      environment: input.environment,
      scope: input.scope,
      name: input.name ?? null,
      limitUsdNanos: input.limitUsd == null ? null : toNanos(input.limitUsd),
      limitTokens: input.limitTokens ?? null,
      onExceeded: input.onExceeded ?? 'block',
      createdAt: now,
      updatedAt: now,
    };
    checkLimits(budget);
    await this.repository.insert(budget);
    this.changed();
    return budget;
  }

  async update(
    id: string,
    patch: Partial<Pick<BudgetInput, 'name' | 'limitUsd' | 'limitTokens' | 'onExceeded'>>,
  ): Promise<BudgetRecord> {
    const budget = await this.get(id);
    const next: BudgetRecord = {
      ...budget,
      name: patch.name === undefined ? budget.name : patch.name,
      limitUsdNanos:
        patch.limitUsd === undefined
          ? budget.limitUsdNanos
          : patch.limitUsd === null
            ? null
            : toNanos(patch.limitUsd),
      limitTokens: patch.limitTokens === undefined ? budget.limitTokens : patch.limitTokens,
      onExceeded: patch.onExceeded ?? budget.onExceeded,
      updatedAt: this.clock(),
    };
    checkLimits(next);
    await this.repository.update(next);
    this.changed();
    return next;
  }

  async delete(id: string): Promise<void> {
    const deleted = await this.store.database.transaction((transaction) =>
      budgetRepository(transaction).delete(id),
    );
    if (deleted) this.changed();
    else await this.get(id);
  }

  /** Each budget of an agent with its counter in the window of `sessionId` at `at`. */
  async standings(
    agentId: string,
    environment: Environment,
    sessionId: string | null,
    at = this.clock(),
  ): Promise<BudgetStanding[]> {
    const budgets = await this.repository.applicable(agentId, environment);
    const standings: BudgetStanding[] = [];
    for (const budget of budgets) {
      const windowKey = windowKeyOf(budget.scope, agentId, sessionId, at);
      if (windowKey === undefined) continue;
      const counter =
        (await this.repository.counter(budget.id, windowKey)) ?? emptyCounter(budget.id, windowKey);
      standings.push({ budget, windowKey, counter });
    }
    return standings;
  }

  // ---- reservations --------------------------------------------------------------------

  /** Checks a model call: reserves its estimated cost against every applicable budget, or refuses. */
  async checkModelCall(
    agentId: string,
    environment: Environment,
    check: ModelCallCheck,
  ): Promise<ReserveResult> {
    const cost = this.pricing.cost(check.model, check.estimatedInputTokens, check.maxOutputTokens);
    return this.reserve(agentId, environment, {
      kind: 'model',
      subject: check.model,
      sessionId: check.sessionId,
      usdNanos: toNanos(cost.costUsd),
      tokens: check.estimatedInputTokens + check.maxOutputTokens,
      priced: cost.rateFound,
      ttlSeconds: check.ttlSeconds,
    });
  }

  /**
   * Reserves an amount against every applicable budget in one transaction, durably committed
   * before it resolves; refuses (and reserves nothing) when it would take any one over its limit.
   * An unpriced model is refused by a dollar budget: its cost cannot be known (never fail open).
   */
  async reserve(
    agentId: string,
    environment: Environment,
    request: {
      kind: 'model' | 'tool';
      subject: string;
      sessionId: string | null;
      usdNanos: number;
      tokens: number;
      priced: boolean;
      ttlSeconds?: number;
    } & ToolReservation,
  ): Promise<ReserveResult> {
    const now = this.clock();
    const { usdNanos, tokens, priced } = request;
    // The definitions as cached for the tool check (dropped on every change, on any replica).
    const budgets = await this.applicable.get(agentId, environment);
    const held: { budget: BudgetRecord; windowKey: string }[] = [];
    for (const budget of budgets) {
      const windowKey = windowKeyOf(budget.scope, agentId, request.sessionId, now);
      if (windowKey !== undefined) held.push({ budget, windowKey });
    }
    if (held.length === 0 && request.id === undefined) {
      return { decision: 'allow', reservation: undefined, usdNanos, tokens, priced, standings: [] };
    }
    const unpricedRefusal = priced
      ? undefined
      : held.find(({ budget }) => budget.limitUsdNanos !== null);
    if (unpricedRefusal) {
      const counter =
        (await this.repository.counter(unpricedRefusal.budget.id, unpricedRefusal.windowKey)) ??
        emptyCounter(unpricedRefusal.budget.id, unpricedRefusal.windowKey);
      return {
        decision: 'refuse',
        reason: 'unpriced_model',
        usdNanos,
        tokens,
        priced,
        standing: { ...unpricedRefusal, counter },
        message: `The model "${request.subject}" is not in the server's pricing table, so its cost cannot be reserved against the ${describeBudget(unpricedRefusal.budget)}. Add it with --pricing-file, or use a priced model name.`,
      };
    }
    // One order for every transaction (budget id, then window): replicas never deadlock.
    held.sort((a, b) =>
      a.budget.id === b.budget.id
        ? a.windowKey < b.windowKey
          ? -1
          : 1
        : a.budget.id < b.budget.id
          ? -1
          : 1,
    );
    const ttl = Math.min(
      maxReservationTtlSeconds,
      Math.max(1, request.ttlSeconds ?? defaultReservationTtlSeconds),
    );
    const reservation: ReservationRecord = {
      id: request.id ?? uuidv7(now),
      agentId,
      environment,
      sessionId: request.sessionId,
      kind: request.kind,
      subject: request.subject,
      usdNanos,
      tokens,
      counters: held.map(({ budget, windowKey }) => [budget.id, windowKey]),
      status: 'reserved',
      createdAt: now,
      expiresAt: request.expiresAt ?? now + ttl * 1000,
      settledAt: null,
      usageId: null,
      actualUsdNanos: null,
      actualTokens: null,
    };
    const changed = this.sessionReserved?.changing([reservation]);
    const outcome = await this.reserver
      .reserve({ held, reservation, force: request.force === true })
      .finally(() => changed?.());
    if (outcome.fitted) {
      const standings = held.map(({ budget, windowKey }, index) => ({
        budget,
        windowKey,
        counter: outcome.counters[index] ?? emptyCounter(budget.id, windowKey),
      }));
      return { decision: 'allow', reservation, usdNanos, tokens, priced, standings };
    }
    const { budget, counter } = outcome;
    return {
      decision: 'refuse',
      reason: 'budget_exceeded',
      usdNanos,
      tokens,
      priced,
      standing: { budget, windowKey: outcome.windowKey, counter },
      message: `Over budget: this ${request.kind === 'model' ? 'model call' : 'tool call'} (estimated $${toUsd(usdNanos)}, ${tokens} tokens) would exceed the ${describeBudget(budget)}: spent $${toUsd(counter.spentUsdNanos)} (${counter.spentTokens} tokens), reserved $${toUsd(counter.reservedUsdNanos)} (${counter.reservedTokens} tokens) by calls in flight. Raise the budget, or wait for a new window.`,
    };
  }

  /**
   * The statements that count usage records against budgets, for the usage's own commit: each
   * record's real cost and tokens are added to the counters of the budgets that apply to it, and
   * a record naming a reservation settles it (gives back what it held, once).
   */
  async usageStatements(
    agentId: string,
    environment: Environment,
    settlements: readonly UsageSettlement[],
  ): Promise<{ statements: Statement[]; written: () => void }> {
    if (settlements.length === 0) return { statements: [], written: () => undefined };
    const budgets = await this.repository.applicable(agentId, environment);
    const statements: Statement[] = [];
    const settled: ReservationRecord[] = [];
    const now = this.clock();
    for (const settlement of settlements) {
      const usdNanos = toNanos(settlement.costUsd);
      // The windows the spend counts in are picked by the server's time, never the client's
      // occurred_at (a backdated record, or a client clock behind, would move spend out of the
      // current window): a settled reservation's own windows (its session, when it was reserved),
      // else the windows open now.
      let sessionId = settlement.sessionId;
      let at = now;
      if (settlement.reservationId !== undefined) {
        const reservation = await this.repository.reservation(settlement.reservationId);
        if (
          !reservation ||
          reservation.agentId !== agentId ||
          reservation.environment !== environment
        ) {
          throw new ValidationError(
            `reservation_id ${settlement.reservationId.slice(0, 100)} is not a reservation of this API key; send the reservation_id that POST /v1/model-calls/check answered.`,
            'reservation_id',
          );
        }
        sessionId = reservation.sessionId ?? settlement.sessionId;
        at = reservation.createdAt;
        if (reservation.status === 'reserved') {
          settled.push(reservation);
          statements.push(
            ...settleStatements(reservation, settlement.usageId, usdNanos, settlement.tokens, now),
          );
        }
      }
      for (const budget of budgets) {
        const windowKey = windowKeyOf(budget.scope, agentId, sessionId, at);
        if (windowKey === undefined) continue;
        statements.push(addSpendStatement(budget.id, windowKey, usdNanos, settlement.tokens, now));
      }
    }
    // A settled reservation leaves its session's spend (its usage, counted by the usage's own
    // commit, may name another session or none): the session's memory version moves in the
    // usage's commit (PostgreSQL, memory/bump.ts).
    if (this.store.database.dialect === 'postgres') {
      statements.push(
        ...bumpStatements(
          settled.flatMap((reservation) =>
            reservation.sessionId === null
              ? []
              : [
                  sessionScopeKey(
                    reservation.agentId,
                    reservation.environment,
                    reservation.sessionId,
                  ),
                ],
          ),
        ),
      );
    }
    const written = this.sessionReserved?.changing(settled) ?? (() => undefined);
    return { statements, written };
  }

  /**
   * Whether the next tool call of a session is over one of its budgets (spent and reserved at
   * or past the limit), and what the budget says to do then.
   */
  async toolGate(
    agentId: string,
    environment: Environment,
    sessionId: string | null,
  ): Promise<ToolGate | undefined> {
    const budgets = await this.applicable.get(agentId, environment);
    if (budgets.length === 0) return undefined;
    const now = this.clock();
    let gate: ToolGate | undefined;
    for (const budget of budgets) {
      const windowKey = windowKeyOf(budget.scope, agentId, sessionId, now);
      if (windowKey === undefined) continue;
      const counter = await this.repository.counter(budget.id, windowKey);
      if (!counter || !isOver(budget, counter)) continue;
      // Block wins over hold when two budgets are over.
      if (gate && gate.effect === 'block') continue;
      gate = {
        effect: budget.onExceeded,
        standing: { budget, windowKey, counter },
        message: `the ${describeBudget(budget)} is used up: spent $${toUsd(counter.spentUsdNanos)} (${counter.spentTokens} tokens), reserved $${toUsd(counter.reservedUsdNanos)} (${counter.reservedTokens} tokens)`,
      };
    }
    return gate;
  }

  // ---- expiry ----------------------------------------------------------------------------

  /**
   * Settles or gives back the held cost of a tool call once its approval is decided: approved
   * (or expired with `on_timeout: allow`) → spent; denied or expired → given back. Nothing when
   * the call has no held cost. Whether it changed anything.
   */
  async settleToolCall(
    action: Pick<ActionRecord, 'id' | 'status' | 'onTimeout'>,
    now = this.clock(),
  ): Promise<boolean> {
    if (action.status === 'pending' || action.status === 'completed') return false;
    let changed: (() => void) | undefined;
    try {
      return await this.store.database.transaction(async (transaction) => {
        const repository = budgetRepository(transaction);
        const reservation = await repository.reservation(action.id);
        if (reservation?.kind !== 'tool' || reservation.status !== 'reserved') return false;
        // Nothing else reads the embedded store during its transaction: begun here, in time.
        changed = this.sessionReserved?.changing([reservation]);
        if (runs(action)) return repository.settleHeld(reservation, now);
        return expireReservation(transaction, reservation, now);
      });
    } finally {
      changed?.();
    }
  }

  /** Settles held tool costs as their approvals are decided on this replica (the sweep is the backstop). */
  followDecisions(events: LiveEvents): void {
    events.subscribe(
      (event) => {
        if (event.type !== 'action.decided') return;
        this.settleToolCall(event.action).catch((error: unknown) => {
          this.logger?.warn("A tool call's held cost was not settled; the sweep will", {
            actionId: event.action.id,
            error: error instanceof Error ? error.message : String(error),
          });
        });
      },
      ['action.decided'],
    );
  }

  /**
   * Expires reservations held past their time, giving back what they held. A tool call's held
   * cost is settled instead when its call was approved, and waits while its call is still held.
   * How many it expired.
   */
  async sweep(now = this.clock()): Promise<number> {
    let expired = 0;
    for (;;) {
      const ids = await this.repository.overdue(now, 100);
      for (const id of ids) {
        const held = await this.repository.reservation(id);
        if (held?.kind === 'tool') {
          const action = await this.store.actions.get(id);
          if (action?.status === 'pending') {
            await this.repository.extend(id, now + toolHoldGraceMs);
            continue;
          }
          if (action && runs(action)) {
            await this.settleToolCall(action, now);
            continue;
          }
        }
        let changed: (() => void) | undefined;
        const done = await this.store.database
          .transaction(async (transaction) => {
            const repository = budgetRepository(transaction);
            const reservation = await repository.reservation(id);
            if (!reservation) return false;
            // Nothing else reads the embedded store during its transaction: begun here, in time.
            changed = this.sessionReserved?.changing([reservation]);
            return expireReservation(transaction, reservation, now);
          })
          .finally(() => changed?.());
        if (done) expired++;
      }
      if (ids.length < 100) return expired;
    }
  }

  /** Sweeps every `intervalMs` (errors are logged, the next round tries again). */
  startSweeper(intervalMs: number): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => {
      if (this.sweeping) return;
      this.sweeping = this.sweep()
        .catch((error: unknown) => {
          this.logger?.warn('Expiring budget reservations failed; retrying on the next round', {
            error: error instanceof Error ? error.message : String(error),
          });
          return 0;
        })
        .finally(() => {
          this.sweeping = undefined;
        });
    }, intervalMs);
    this.sweeper.unref?.();
  }

  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    await this.sweeping;
  }

  /**
   * What is reserved and not yet settled, in dollars and tokens: for a session
   * (`{agentId, environment, sessionId}`), an agent's day (`{agentId, environment, from, to}`
   * — see `windowRange`), or an environment (`{environment, from, to}`). The lead adds this to
   * `session.cost_usd` and friends.
   */
  async reservedAmount(filter: ReservedFilter): Promise<{ usd: number; tokens: number }> {
    const { agentId, sessionId } = filter;
    if (
      this.sessionReserved === undefined ||
      agentId === undefined ||
      sessionId === undefined ||
      !filter.withToolCharges ||
      filter.from !== undefined ||
      filter.to !== undefined
    ) {
      return reservedAmount(this.store, filter);
    }
    // A session's, with tool charges (what `session.cost_usd` adds): kept in this process.
    const sum = await this.sessionReserved.get(
      { agentId, environment: filter.environment, sessionId },
      () =>
        this.repository.reservedSum({
          agentId,
          environment: filter.environment,
          sessionId,
          withToolCharges: true,
        }),
    );
    return { usd: toUsd(sum.usdNanos), tokens: sum.tokens };
  }
}

/** How long past its approval's deadline a held tool cost waits for the decision (1 minute). */
export const toolHoldGraceMs = 60_000;

/**
 * Marks a reservation expired and gives back what it held on its budgets' counters, in the
 * caller's transaction; false when it was settled or expired meanwhile.
 */
async function expireReservation(
  transaction: Queryable,
  reservation: ReservationRecord,
  now: number,
): Promise<boolean> {
  const repository = budgetRepository(transaction);
  if (!(await repository.markExpired(reservation.id, now))) return false;
  // What it held leaves its session's spend: the session's memory version moves (PostgreSQL,
  // memory/bump.ts), after the reservation's row and before the counters, as in a usage commit.
  if (reservation.sessionId !== null) {
    await bumpVersions(transaction, [
      sessionScopeKey(reservation.agentId, reservation.environment, reservation.sessionId),
    ]);
  }
  for (const [budgetId, windowKey] of reservation.counters) {
    await repository.release(budgetId, windowKey, reservation.usdNanos, reservation.tokens, now);
  }
  return true;
}

/** Whether a decided call runs: approved, or expired with `on_timeout: allow`. */
function runs(action: Pick<ActionRecord, 'status' | 'onTimeout'>): boolean {
  return (
    action.status === 'approved' || (action.status === 'expired' && action.onTimeout === 'allow')
  );
}

/** Reserved-not-yet-settled dollars and tokens (see `BudgetService.reservedAmount`). */
export async function reservedAmount(
  store: Pick<Store, 'database'>,
  filter: ReservedFilter,
): Promise<{ usd: number; tokens: number }> {
  const sum = await budgetRepository(store.database).reservedSum(filter);
  return { usd: toUsd(sum.usdNanos), tokens: sum.tokens };
}

/** The largest dollar limit: its nanodollars stay exact in a JavaScript number. */
export const maxLimitUsd = 1_000_000;
/** The largest token limit. */
export const maxLimitTokens = 1e15;

function checkLimits(budget: BudgetRecord): void {
  if (
    budget.limitUsdNanos !== null &&
    !(budget.limitUsdNanos >= 0 && budget.limitUsdNanos <= toNanos(maxLimitUsd))
  ) {
    throw new ValidationError(`limit_usd must be from 0 to ${maxLimitUsd} dollars.`, 'limit_usd');
  }
  if (
    budget.limitTokens !== null &&
    !(
      Number.isInteger(budget.limitTokens) &&
      budget.limitTokens >= 0 &&
      budget.limitTokens <= maxLimitTokens
    )
  ) {
    throw new ValidationError(
      `limit_tokens must be a whole number from 0 to ${maxLimitTokens}.`,
      'limit_tokens',
    );
  }
  if (budget.limitUsdNanos === null && budget.limitTokens === null) {
    throw new ValidationError(
      'A budget needs a limit: set limit_usd (dollars), limit_tokens, or both.',
      'limit_usd',
    );
  }
  if (budget.scope.startsWith('environment') && budget.agentId !== null) {
    // An environment budget counts every agent: it belongs to none.
    throw new ValidationError(
      `A ${budget.scope} budget counts every agent of the environment; leave agent out (or use agent_day for one agent).`,
      'agent',
    );
  }
}
