import type { Arden } from '@arden/core';
import { describe, expect, it } from 'vitest';
import { guardMcpClient } from './client';

// An Arden that allows every call after a moment (as a held call is approved), recording what it checked.
function slowArden(checked: unknown[]): Arden {
  return {
    options: { onUnavailable: 'block', logger: { warn() {}, error() {} } },
    check: async (_name: string, context: { kwargs: unknown }) => {
      checked.push(structuredClone(context.kwargs));
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { decision: 'allow', actionId: 'act_1' };
    },
    reportResult() {},
  } as unknown as Arden;
}

describe('guardMcpClient: what runs is what Arden checked', () => {
  it('runs the arguments as they were checked, even when the caller changes them meanwhile', async () => {
    const checked: unknown[] = [];
    const ran: unknown[] = [];
    const client = guardMcpClient(
      {
        callTool: async (params: { arguments?: unknown }) => {
          ran.push(structuredClone(params.arguments));
          return { content: [] };
        },
      },
      { server: 'files', arden: slowArden(checked) },
    );
    const params = { name: 'delete', arguments: { path: '/tmp/scratch' } };
    const pending = client.callTool(params);
    params.arguments.path = '/home';
    await pending;
    expect(ran).toEqual(checked);
  });
});
