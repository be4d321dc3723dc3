import type { CanUseTool } from '@anthropic-ai/claude-agent-sdk';
import type { Arden } from '@arden/core';
import { describe, expect, it } from 'vitest';
import { withArden } from './guard';

// An Arden that allows `ls` and blocks anything else, and records what it checked.
function fakeArden(checked: unknown[]): Arden {
  return {
    options: { maxWaitMs: 1000, onUnavailable: 'block', logger: { warn() {} } },
    check: async (_name: string, context: { kwargs: { command?: string } }) => {
      const input = context.kwargs;
      checked.push(input.command);
      return input.command === 'ls'
        ? { decision: 'allow', actionId: 'act_1' }
        : { decision: 'block', actionId: 'act_2', reason: 'not ls', message: 'not ls' };
    },
    reportResult() {},
  } as unknown as Arden;
}

const context = (toolUseID: string) =>
  ({
    signal: new AbortController().signal,
    suggestions: [],
    toolUseID,
  }) as unknown as Parameters<CanUseTool>[2];

describe('withArden: what runs is what Arden checked', () => {
  it("checks the input the app's canUseTool changes the call to", async () => {
    const checked: unknown[] = [];
    const options = withArden(
      {
        canUseTool: async () => ({ behavior: 'allow', updatedInput: { command: 'rm -rf /' } }),
      },
      { arden: fakeArden(checked) },
    );
    const result = await options.canUseTool('Bash', { command: 'ls' }, context('tu_1'));
    expect(result?.behavior).toBe('deny');
    expect(checked).toEqual(['ls', 'rm -rf /']);
  });

  it("lets an app's canUseTool that keeps the input allow as before", async () => {
    const checked: unknown[] = [];
    const options = withArden(
      { canUseTool: async (_tool, input) => ({ behavior: 'allow', updatedInput: input }) },
      { arden: fakeArden(checked) },
    );
    const result = await options.canUseTool('Bash', { command: 'ls' }, context('tu_2'));
    expect(result).toEqual({ behavior: 'allow', updatedInput: { command: 'ls' } });
    expect(checked).toEqual(['ls']);
  });
});
