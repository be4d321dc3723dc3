import { describe, expectTypeOf, it } from 'vitest';
import type { PendingApproval } from './arden';
import { guardTool } from './index';

describe('guardTool types', () => {
  it('keeps the parameters and awaits the result in wait mode', () => {
    const refund = guardTool('refund', async (amount: number, currency: string) => ({
      amount,
      currency,
    }));
    expectTypeOf(refund).parameters.toEqualTypeOf<[number, string]>();
    expectTypeOf(refund).returns.toEqualTypeOf<Promise<{ amount: number; currency: string }>>();
    const sync = guardTool('sync', (input: { id: string }) => input.id.length);
    expectTypeOf(sync).returns.toEqualTypeOf<Promise<number>>();
  });

  it('adds PendingApproval to the result in async and webhook modes', () => {
    const send = guardTool('send', async (to: string) => to, { approvalMode: 'async' });
    expectTypeOf(send).returns.toEqualTypeOf<Promise<string | PendingApproval>>();
    const hook = guardTool('hook', () => 1, { approvalMode: 'webhook' });
    expectTypeOf(hook).returns.toEqualTypeOf<Promise<number | PendingApproval>>();
  });

  it('types onApproval with the tool result', () => {
    guardTool('send', async () => ({ ok: true }), {
      approvalMode: 'async',
      onApproval: (result) => {
        expectTypeOf(result).toEqualTypeOf<{ ok: boolean }>();
      },
    });
  });

  it('refuses wrong arguments', () => {
    const refund = guardTool('refund', async (amount: number) => amount);
    // @ts-expect-error a string is not a number
    void refund('10');
  });
});
