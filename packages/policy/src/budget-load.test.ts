import { afterEach, expect, it, vi } from 'vitest';

afterEach(() => {
  vi.restoreAllMocks();
  vi.resetModules();
});

// The budget class warms itself up as it is defined (budget.ts, `kept`), looking at the clock.
// On a loaded machine the process can be descheduled for longer than an evaluation may take
// between two looks: that once threw while the module loaded ("EvaluationBudgetError is not a
// constructor"), failing every import of the policy engine, the server's included.
it('loads when the clock jumps a second between the warm-up budget’s looks', async () => {
  let now = 1_000;
  vi.spyOn(performance, 'now').mockImplementation(() => {
    now += 1_000;
    return now;
  });
  vi.resetModules();
  const budget = await import('./budget');
  vi.restoreAllMocks();
  expect(budget.EvaluationBudget.kept.exceeded).toBeUndefined();
  // Budgets made afterwards still keep time.
  const timed = new budget.EvaluationBudget(10_000_000, 5);
  let clock = 0;
  vi.spyOn(performance, 'now').mockImplementation(() => {
    clock += 4;
    return clock;
  });
  expect(() => {
    for (let step = 0; step < 10_000; step++) timed.step();
  }).toThrow(budget.EvaluationBudgetError);
});
