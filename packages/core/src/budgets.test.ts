import { afterEach, describe, expect, it } from 'vitest';
import { Arden } from './arden';
import { ArdenUnavailableError, BudgetExceededError } from './errors';
import { withSession } from './session';

// checkModelCall() against scripted answers of POST /v1/model-calls/check (the real server's
// side is tested in packages/server/src/budgets and through the adapters).
const instances: Arden[] = [];
afterEach(async () => {
  await Promise.all(instances.splice(0).map((instance) => instance.shutdown()));
});

function arden(answer: (body: any) => Response, extra: Record<string, unknown> = {}) {
  const bodies: any[] = [];
  const fetch = async (_input: RequestInfo | URL, init?: RequestInit) => {
    const body = JSON.parse(String(init?.body));
    bodies.push(body);
    return answer(body);
  };
  const instance = new Arden({
    apiKey: 'arden_test_00000000000000000000000000000000',
    apiUrl: 'http://arden.test',
    fetch,
    retryAttempts: 0,
    logLevel: 'silent',
    ...extra,
  });
  instances.push(instance);
  return { instance, bodies };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

const standing = {
  id: 'b1',
  name: 'Run cap',
  scope: 'session',
  window: 'agent/s-1',
  limit_usd: 5,
  limit_tokens: null,
  spent_usd: 4.5,
  spent_tokens: 90_000,
  reserved_usd: 0.4,
  reserved_tokens: 4_000,
};

describe('checkModelCall', () => {
  it('sends the model, the estimate and the session, and answers the reservation', async () => {
    const { instance, bodies } = arden(() =>
      json(200, {
        decision: 'allow',
        reason: 'reserved',
        reservation_id: 'r-1',
        expires_at: '2026-12-06T10:10:00.000Z',
        estimated_cost_usd: 0.0125,
        estimated_tokens: 2000,
        budgets: [standing],
      }),
    );
    const reservation = await withSession('s-1', () =>
      instance.checkModelCall({
        model: 'gpt-4o',
        estimatedInputTokens: 999.2,
        maxOutputTokens: 1000,
      }),
    );
    expect(bodies[0]).toEqual({
      model: 'gpt-4o',
      estimated_input_tokens: 1000,
      max_output_tokens: 1000,
      session_id: 's-1',
    });
    expect(reservation).toMatchObject({
      reservationId: 'r-1',
      estimatedCostUsd: 0.0125,
      budgets: [standing],
    });
  });

  it('throws BudgetExceededError with the budget, spent and reserved amounts when refused', async () => {
    const { instance } = arden(() =>
      json(200, {
        decision: 'refuse',
        reason: 'budget_exceeded',
        reservation_id: null,
        expires_at: null,
        estimated_cost_usd: 0.2,
        estimated_tokens: 3000,
        message: 'Over budget: …',
        budget: standing,
        budgets: [],
      }),
    );
    const error = await instance
      .checkModelCall({ model: 'gpt-4o', estimatedInputTokens: 1, maxOutputTokens: 1 })
      .catch((caught: unknown) => caught);
    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({
      name: 'BudgetExceededError',
      message: 'Over budget: …',
      reason: 'budget_exceeded',
      budget: { id: 'b1', name: 'Run cap', scope: 'session', limitUsd: 5, limitTokens: null },
      spent: { usd: 4.5, tokens: 90_000 },
      reserved: { usd: 0.4, tokens: 4_000 },
      estimated: { usd: 0.2, tokens: 3000 },
    });
  });

  it('asks nothing with modelCallChecks: false', async () => {
    const { instance, bodies } = arden(() => json(500, {}), { modelCallChecks: false });
    expect(
      await instance.checkModelCall({
        model: 'gpt-4o',
        estimatedInputTokens: 1,
        maxOutputTokens: 1,
      }),
    ).toMatchObject({ reservationId: null, unchecked: true });
    expect(bodies).toHaveLength(0);
  });

  it('reads an Arden server without the route (its own 404) as no budget, and says so once', async () => {
    const lines: string[] = [];
    const logger = {
      debug: () => undefined,
      info: (message: string) => lines.push(`info ${message}`),
      warn: (message: string) => lines.push(`warn ${message}`),
      error: (message: string) => lines.push(`error ${message}`),
    };
    const { instance } = arden(
      () =>
        json(404, {
          error:
            'No route POST /v1/model-calls/check. The agent API has POST /policy/check, GET /status/{action_id}, POST /token-usage and POST /v1/actions/{action_id}/result.',
        }),
      { logger },
    );
    const call = { model: 'gpt-4o', estimatedInputTokens: 1, maxOutputTokens: 1 };
    expect(await instance.checkModelCall(call)).toMatchObject({ reservationId: null });
    expect(await instance.checkModelCall(call)).toMatchObject({ reservationId: null });
    expect(lines).toEqual([expect.stringMatching(/^info .*has no budgets/)]);
  });

  it.each([
    ['a proxy that answers HTML', () => new Response('<h1>Not Found</h1>', { status: 404 })],
    ['a proxy that answers JSON', () => json(404, { message: 'no upstream for this path' })],
    ['another server', () => new Response('', { status: 404 })],
    [
      'Arden at a wrong path',
      () => json(404, { error: 'No route POST /arden/v1/model-calls/check.' }),
    ],
  ])('reads any other 404 (%s) as Arden unavailable: refused, and logged', async (_, answer) => {
    const lines: string[] = [];
    const logger = {
      debug: () => undefined,
      info: (message: string) => lines.push(`info ${message}`),
      warn: (message: string) => lines.push(`warn ${message}`),
      error: (message: string) => lines.push(`error ${message}`),
    };
    const call = { model: 'gpt-4o', estimatedInputTokens: 1, maxOutputTokens: 1 };
    const { instance } = arden(answer, { logger });
    const error = await instance.checkModelCall(call).catch((caught: unknown) => caught);
    expect(ArdenUnavailableError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain('404');
    expect(lines).toEqual([expect.stringMatching(/^error Arden could not be asked .*404/)]);
    // onUnavailable: 'allow' lets it run, unchecked, and warns with the reason.
    lines.length = 0;
    const { instance: lenient } = arden(answer, { logger, onUnavailable: 'allow' });
    expect(await lenient.checkModelCall(call)).toMatchObject({
      reservationId: null,
      unchecked: true,
    });
    expect(lines).toEqual([expect.stringMatching(/^warn .*onUnavailable: allow/)]);
  });

  it('does not let the call run when Arden cannot be reached, unless onUnavailable is allow', async () => {
    const down = () => {
      throw new TypeError('fetch failed');
    };
    const { instance } = arden(down);
    const error = await instance
      .checkModelCall({ model: 'gpt-4o', estimatedInputTokens: 1, maxOutputTokens: 1 })
      .catch((caught: unknown) => caught);
    expect(ArdenUnavailableError.isInstance(error)).toBe(true);
    const lenient = arden(down, { onUnavailable: 'allow' }).instance;
    expect(
      await lenient.checkModelCall({
        model: 'gpt-4o',
        estimatedInputTokens: 1,
        maxOutputTokens: 1,
      }),
    ).toMatchObject({ reservationId: null, unchecked: true });
  });
});
