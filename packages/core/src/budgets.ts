import {
  ArdenApiError,
  ArdenUnavailableError,
  BudgetExceededError,
  type BudgetInfo,
} from './errors';
import type { HttpClient } from './http';
import type { ResolvedOptions } from './options';
import { getSession } from './session';
import type { BudgetStandingBody, ModelCallCheckBody, ModelCallCheckResponseBody } from './wire';

/** A model call about to be made, for `checkModelCall()`. */
export interface ModelCallRequest {
  /** The model, as the server's pricing table names it (`gpt-4o`, `claude-sonnet-4-5`). */
  model: string;
  /** An estimate of the input (prompt) tokens. */
  estimatedInputTokens: number;
  /** The most output tokens the call may produce (its `max_tokens`). */
  maxOutputTokens: number;
  /** The session; defaults to the current session (`withSession`/`setSession`). */
  sessionId?: string;
}

/** A model call Arden allowed: its cost is reserved until the usage record settles it. */
export interface ModelCallReservation {
  /** Pass as `reservationId` to `logTokenUsage()`; null when no budget applies (or unchecked). */
  reservationId: string | null;
  estimatedCostUsd: number;
  estimatedTokens: number;
  /** The budgets the call was reserved against, with their spend after the reservation. */
  budgets: BudgetStandingBody[];
  /**
   * True when Arden was not asked: `modelCallChecks: false`, or it could not be reached and
   * `onUnavailable: 'allow'` let the call through.
   */
  unchecked?: boolean;
}

function budgetInfo(body: BudgetStandingBody): BudgetInfo {
  return {
    id: body.id,
    name: body.name,
    scope: body.scope,
    window: body.window,
    limitUsd: body.limit_usd,
    limitTokens: body.limit_tokens,
  };
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.ceil(value) : 0;
}

/**
 * Asks Arden before a model call (`POST /v1/model-calls/check`): the estimated cost is reserved
 * against the agent's budgets, or the call is refused with `BudgetExceededError`. Arden
 * unreachable: `ArdenUnavailableError` (the call must not run), unless `onUnavailable: 'allow'`.
 * An Arden server without budgets (older than this route) answers 404 "No route POST
 * /v1/model-calls/check": no budget can apply. Any other 404 (a proxy's, another server's) is
 * not an answer: unavailable, as above.
 */
export async function checkModelCall(
  http: HttpClient,
  options: ResolvedOptions,
  request: ModelCallRequest,
): Promise<ModelCallReservation> {
  if (!options.modelCallChecks) {
    return {
      reservationId: null,
      estimatedCostUsd: 0,
      estimatedTokens: 0,
      budgets: [],
      unchecked: true,
    };
  }
  const sessionId = request.sessionId ?? getSession();
  const body: ModelCallCheckBody = {
    model: request.model || 'unknown',
    estimated_input_tokens: count(request.estimatedInputTokens),
    max_output_tokens: count(request.maxOutputTokens),
  };
  if (sessionId !== undefined) body.session_id = sessionId;
  let answer: ModelCallCheckResponseBody;
  try {
    answer = await http.request<ModelCallCheckResponseBody>('POST', '/v1/model-calls/check', body);
  } catch (caught) {
    let error = caught;
    if (ArdenApiError.isInstance(error) && error.statusCode === 404) {
      if (isNoRouteAnswer(error)) {
        if (!toldNoBudgets.has(options)) {
          toldNoBudgets.add(options);
          options.logger.info(
            'This Arden server has no budgets (no POST /v1/model-calls/check): model calls are not checked against budgets',
          );
        }
        return { reservationId: null, estimatedCostUsd: 0, estimatedTokens: 0, budgets: [] };
      }
      // A 404 that is not Arden's "no such route" (a proxy's, a wrong ARDEN_API_URL, a server
      // that is not Arden) says nothing about budgets: Arden was not asked.
      const unavailable = new ArdenUnavailableError({
        message: `Arden could not be asked about a model call: ${error.message} Only an Arden server's own "No route" 404 means it has no budgets; this answer is not that, so the call is treated as Arden unavailable.`,
        cause: error,
      });
      if (options.onUnavailable !== 'allow') {
        options.logger.error(unavailable.message, { model: body.model });
      }
      error = unavailable;
    }
    if (options.onUnavailable === 'allow' && !ArdenApiError.isInstance(error)) {
      options.logger.warn(
        'Arden could not be asked about a model call; onUnavailable: allow lets it run',
        {
          model: body.model,
          error: error instanceof Error ? error.message : String(error),
        },
      );
      return {
        reservationId: null,
        estimatedCostUsd: 0,
        estimatedTokens: 0,
        budgets: [],
        unchecked: true,
      };
    }
    throw error;
  }
  if (answer.decision !== 'allow') {
    const standing = answer.budget;
    throw new BudgetExceededError({
      model: body.model,
      reason: answer.reason,
      budget: standing
        ? budgetInfo(standing)
        : { id: '', name: null, scope: 'unknown', window: '', limitUsd: null, limitTokens: null },
      spent: { usd: standing?.spent_usd ?? 0, tokens: standing?.spent_tokens ?? 0 },
      reserved: { usd: standing?.reserved_usd ?? 0, tokens: standing?.reserved_tokens ?? 0 },
      estimated: { usd: answer.estimated_cost_usd, tokens: answer.estimated_tokens },
      ...(answer.message ? { message: answer.message } : {}),
    });
  }
  return {
    reservationId: answer.reservation_id,
    estimatedCostUsd: answer.estimated_cost_usd,
    estimatedTokens: answer.estimated_tokens,
    budgets: answer.budgets ?? [],
  };
}

/** The options of the instances already told that their server has no budgets (told once). */
const toldNoBudgets = new WeakSet<object>();

/** Arden's own answer for a route it does not have: an older server, without budgets. */
function isNoRouteAnswer(error: ArdenApiError): boolean {
  return (
    error.fromArden && error.detail?.startsWith('No route POST /v1/model-calls/check') === true
  );
}

/** A rough token count of text or messages (4 characters a token), for an estimate. */
export function estimateTokens(value: unknown): number {
  if (value === undefined || value === null) return 0;
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
  return Math.ceil(text.length / 4);
}
