import { describe, expect, test } from 'vitest';
import { similarPolicyTools } from './similar-tools';

describe('similarPolicyTools', () => {
  test('a name that differs only by a namespace prefix, either way', () => {
    expect(similarPolicyTools('support.refund', ['refund', 'search'])).toEqual(['refund']);
    expect(similarPolicyTools('refund', ['support.refund', 'search'])).toEqual(['support.refund']);
    expect(similarPolicyTools('support.stripe.refund', ['stripe.*', 'crm.*'])).toEqual([
      'stripe.*',
    ]);
    expect(
      similarPolicyTools('claude.mcp.github.delete_file', ['mcp.*.delete_file', 'mcp.*.read']),
    ).toEqual(['mcp.*.delete_file']);
  });

  test('not the same name, not a suffix inside a word, not the catch-all', () => {
    expect(similarPolicyTools('refund', ['refund', '*'])).toEqual([]);
    expect(similarPolicyTools('prefund', ['refund'])).toEqual([]);
    expect(similarPolicyTools('stripe.refund', ['stripe.*'])).toEqual([]);
    expect(similarPolicyTools('refund', [])).toEqual([]);
  });
});
