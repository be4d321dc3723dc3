import { describe, expect, it, vi } from 'vitest';
import { Arden } from './arden';
import { checkMcpToolCall, recordHeldCallCancelled, toolCallParams } from './mcp-check';

describe('checkMcpToolCall (both MCP gateways, the hooks)', () => {
  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

  it("refuses a decision it does not know, even with onUnavailable: 'allow'", async () => {
    const arden = new Arden({
      apiKey: `arden_test_${'c'.repeat(32)}`,
      apiUrl: 'http://arden.test',
      fetch: vi.fn(async () => json(200, { decision: 'maybe', action_id: 'a1' })),
      onUnavailable: 'allow',
      logLevel: 'silent',
    });
    try {
      const outcome = await checkMcpToolCall(arden, {
        server: 'files',
        tool: 'delete',
        arguments: { path: '/' },
      });
      expect(outcome.kind).toBe('refuse');
    } finally {
      await arden.shutdown();
    }
  });

  it("still runs unchecked when Arden cannot be reached and onUnavailable is 'allow'", async () => {
    const arden = new Arden({
      apiKey: `arden_test_${'c'.repeat(32)}`,
      apiUrl: 'http://arden.test',
      fetch: vi.fn(async () => {
        throw new TypeError('fetch failed');
      }),
      retryAttempts: 0,
      onUnavailable: 'allow',
      logLevel: 'silent',
    });
    try {
      const outcome = await checkMcpToolCall(arden, {
        server: 'files',
        tool: 'read',
        arguments: {},
      });
      expect(outcome).toEqual({ kind: 'run', actionId: undefined });
    } finally {
      await arden.shutdown();
    }
  });
});

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

describe('checkMcpToolCall: an approval with edit (both gateways, guardMcpClient)', () => {
  const edited = {
    kwargs_json: '{"path":"/tmp/b","content":"edited"}',
    kwargs: { path: '/tmp/b', content: 'edited' },
    patch: [],
    edited_by: 'ann@example.com',
  };
  function heldThenApproved(status: Record<string, unknown>) {
    return {
      options: {
        maxWaitMs: 5_000,
        pollIntervalMs: 10,
        logger: { warn: () => undefined, error: () => undefined },
      },
      check: async () => ({ decision: 'requires_approval', actionId: 'act-1' }),
      status: async () => ({
        action_id: 'act-1',
        status: 'approved',
        message: 'ann@example.com approved the call with changed arguments (path).',
        ...status,
      }),
    } as unknown as Arden;
  }
  const call = { server: 'fs', tool: 'write_file', arguments: { path: '/tmp/a', content: 'x' } };

  it('hands the edited arguments, exactly as approved, to a route that runs edits', async () => {
    const outcome = await checkMcpToolCall(heldThenApproved({ edited }), call, { runsEdits: true });
    expect(outcome.kind).toBe('run');
    if (outcome.kind !== 'run') return;
    expect(outcome.edited?.arguments).toEqual(edited.kwargs);
    expect(JSON.stringify(outcome.edited?.arguments)).toBe(edited.kwargs_json);
    expect(outcome.edited?.argumentsJson).toBe(edited.kwargs_json);
  });

  it('refuses it on a route that does not run edits: the original never runs', async () => {
    const outcome = await checkMcpToolCall(heldThenApproved({ edited }), call);
    expect(outcome.kind).toBe('refuse');
    if (outcome.kind !== 'refuse') return;
    expect(outcome.result.isError).toBe(true);
    expect(outcome.result.content[0].text).toContain('cannot run edited arguments');
    expect(outcome.result.content[0].text).toContain(edited.kwargs_json);
  });

  it('refuses an approval whose receipt is for another call (a replayed approval), edited or not', async () => {
    // A valid receipt of payments.refund (receipts.test.ts's RFC 8032 vector), not of this call.
    const replayed =
      'eyJhbGciOiJFZERTQSIsImtpZCI6InJmYzgwMzItMSIsInR5cCI6ImFyZGVuLXJlY2VpcHQrand0In0.eyJ2IjoxLCJqdGkiOiIwMTlhZTAwMC0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDEiLCJpYXQiOjE3NjQ1NDcyMDAsImRlY2lkZWRfYXQiOjE3NjQ1NDcyMDAwMDAsImFjdGlvbl9pZCI6IjAxOWFlMDAwLTAwMDAtNzAwMC04MDAwLTAwMDAwMDAwMDBhYSIsImFnZW50X2lkIjoiYWdlbnQtMSIsImVudmlyb25tZW50IjoibGl2ZSIsInNlc3Npb25faWQiOiJzLTEiLCJ0b29sIjoicGF5bWVudHMucmVmdW5kIiwiYXJnc19zaGEyNTYiOiI0ZjUzY2RhMThjMmJhYTBjMDM1NGJiNWY5YTNlY2JlNWVkMTJhYjRkOGUxMWJhODczYzJmMTExNjEyMDJiOTQ1Iiwia3dhcmdzX3NoYTI1NiI6IjE2NmE5YTlkZmJhOThmNDQxOGEzMTA5Yjg3OWNmMTE3ZTQ1MGVmNWUxMDc2MWRkMDM4ZDIyNjU5OTU5YzFlMDMiLCJkZWNpc2lvbiI6ImFwcHJvdmUiLCJydW5zIjp0cnVlLCJyZWFzb24iOiJydWxlX21hdGNoZWQiLCJwb2xpY3kiOnsiaWQiOiJwLTEiLCJuYW1lIjoiUmVmdW5kcyIsInZlcnNpb24iOjMsInJ1bGVfaW5kZXgiOjB9LCJkZWNpZGVkX2J5Ijp7InR5cGUiOiJ1c2VyIiwiaWQiOiJ1LTEifX0.WD-BHsJwVaZkXtr-Glw6fhnsBEJrYbrwhS2EYJphmIZ6JzFtGka6G9JBNCXYXewnJiXEmNoa3vNj6VdfiikDBw;';
    for (const status of [{ receipt: replayed }, { receipt: replayed, edited }]) {
      const outcome = await checkMcpToolCall(heldThenApproved(status), call, { runsEdits: true });
      expect(outcome.kind).toBe('refuse');
      if (outcome.kind !== 'refuse') continue;
      expect(outcome.result.content[0].text).toMatch(
        /receipt is for another call|disagree on whether an approver edited/,
      );
    }
  });

  it('refuses edited arguments that would not be forwarded as the approved bytes', async () => {
    const spaced = { ...edited, kwargs_json: '{"path": "/tmp/b", "content": "edited"}' };
    const outcome = await checkMcpToolCall(heldThenApproved({ edited: spaced }), call, {
      runsEdits: true,
    });
    expect(outcome.kind).toBe('refuse');
    if (outcome.kind !== 'refuse') return;
    expect(outcome.result.content[0].text).toContain('byte for byte');
  });
});
