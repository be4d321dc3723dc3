import { describe, expect, it } from 'vitest';
import type { Arden } from './arden';
import { recordHeldCallCancelled, toolCallParams } from './mcp-check';

describe('toolCallParams (both MCP gateways)', () => {
  it('takes a tool name and an arguments object, or no arguments', () => {
    expect(toolCallParams({ name: 'read', arguments: { path: '/a' } })).toEqual({
      tool: 'read',
      arguments: { path: '/a' },
    });
    expect(toolCallParams({ name: 'read' })).toEqual({ tool: 'read', arguments: undefined });
  });

  it.each([
    undefined,
    null,
    [],
    {},
    { name: '' },
    { name: 7 },
    { name: 'read', arguments: [] },
    { name: 'read', arguments: 'x' },
    { name: 'read', arguments: null },
  ])('refuses %j', (params) => {
    expect(toolCallParams(params)).toBeUndefined();
  });
});

describe('recordHeldCallCancelled (both MCP gateways)', () => {
  function fakeArden(fail = false) {
    const cancelled: [string, string][] = [];
    const arden = {
      cancelHeld: async (actionId: string, reason: string) => {
        if (fail) throw new Error('Arden is down');
        cancelled.push([actionId, reason]);
      },
    } as unknown as Arden;
    return { arden, cancelled };
  }

  it("quotes the client's reason, or says the session ended", async () => {
    const { arden, cancelled } = fakeArden();
    const controller = new AbortController();
    controller.abort('changed my mind');
    await recordHeldCallCancelled(arden, 'a1', {
      signal: controller.signal,
      ended: undefined,
      log: () => undefined,
    });
    await recordHeldCallCancelled(arden, 'a2', {
      signal: new AbortController().signal,
      ended: 'the MCP session ended while the call was held',
      log: () => undefined,
    });
    expect(cancelled).toEqual([
      ['a1', 'the MCP client cancelled the call: changed my mind'],
      ['a2', 'the MCP session ended while the call was held'],
    ]);
  });

  it('logs a failure instead of throwing: the call stays held and approving it runs nothing', async () => {
    const { arden } = fakeArden(true);
    const logged: string[] = [];
    await recordHeldCallCancelled(arden, 'a3', {
      signal: new AbortController().signal,
      ended: undefined,
      log: (text) => logged.push(text),
    });
    expect(logged).toEqual([
      'could not record action a3 as cancelled in Arden (Arden is down); it stays held until it expires, and approving it runs nothing',
    ]);
  });
});
