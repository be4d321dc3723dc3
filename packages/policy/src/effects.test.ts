import { describe, expect, it } from 'vitest';
import { EFFECTS, isEffect } from './index';
import { effectSchema } from './schema';

describe('EFFECTS', () => {
  it('lists the three decisions, which the policy schema accepts and nothing else', () => {
    expect(EFFECTS).toEqual(['allow', 'block', 'requires_approval']);
    for (const effect of EFFECTS) expect(effectSchema.parse(effect)).toBe(effect);
    expect(effectSchema.safeParse('escalate').success).toBe(false);
  });

  it('tells an effect from anything else', () => {
    expect(EFFECTS.every(isEffect)).toBe(true);
    for (const value of ['require_approval', 'ALLOW', '', null, undefined, 1, ['allow']]) {
      expect(isEffect(value)).toBe(false);
    }
  });
});
