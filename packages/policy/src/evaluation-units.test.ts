import { describe, expect, it } from 'vitest';
import { compilePolicies } from './compile';
import { evaluate } from './evaluate';
import { evaluationUnits, POLICY_LIMITS, UNITS_SHRINK_LENGTH } from './limits';

describe('the units of a large check', () => {
  it('shrink with the length of the check text, to half at the check body limit', () => {
    const full = POLICY_LIMITS.maxEvaluationCost;
    expect(evaluationUnits(undefined)).toBe(full);
    expect(evaluationUnits(0)).toBe(full);
    expect(evaluationUnits(Number.NaN)).toBe(full);
    expect(evaluationUnits(2_000)).toBeGreaterThan(full * 0.99);
    expect(evaluationUnits(UNITS_SHRINK_LENGTH / 2)).toBe(full * 0.75);
    expect(evaluationUnits(UNITS_SHRINK_LENGTH)).toBe(full / 2);
    expect(evaluationUnits(100 * UNITS_SHRINK_LENGTH)).toBe(full / 2);
    let previous: number = full;
    for (let length = 0; length <= UNITS_SHRINK_LENGTH * 2; length += 4096) {
      expect(evaluationUnits(length)).toBeLessThanOrEqual(previous);
      previous = evaluationUnits(length);
    }
  });

  it('decide a condition by its on_error when the work fits a small check but not a large one', () => {
    const set = compilePolicies([
      {
        name: 'Guard',
        tool: 't',
        // Strings written and read are charged a unit per 8 characters: about 60 000 units here,
        // and fast (no clock can cut it first).
        rules: [{ if: '(args.s + args.s + args.s).contains("zz")', then: 'block' }],
        default: 'allow',
      },
    ]);
    const args = { s: 'x'.repeat(60_000) };
    expect(evaluate(set, { tool: 't', args })).toMatchObject({
      effect: 'allow',
      reason: 'policy_default',
    });
    expect(evaluate(set, { tool: 't', args, textLength: 60_100 })).toMatchObject({
      effect: 'allow',
      reason: 'policy_default',
    });
    const large = evaluate(set, { tool: 't', args, textLength: UNITS_SHRINK_LENGTH });
    expect(large).toMatchObject({ effect: 'block', reason: 'condition_error' });
    expect(large.errors[0]?.message).toContain(
      `more than ${POLICY_LIMITS.maxEvaluationCost / 2} units of work`,
    );
  });
});
