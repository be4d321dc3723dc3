import { afterEach, describe, expect, test } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';

// POST /v1/actions/{id}/cancel: the agent gives up a held call (its MCP client cancelled it).
let t: AdminTestServer;
afterEach(async () => {
  await t?.close();
});

async function start() {
  t = await startAdminTestServer({}, { listen: false });
  await t.server.policies.saveSet(t.agent.id, 'live', [
    { name: 'Deletes wait', tool: 'mcp.fs.delete_file', action: 'requires_approval' },
  ]);
  return t;
}

async function held() {
  const response = await t.request('POST', '/policy/check', {
    body: { tool_name: 'mcp.fs.delete_file', args: [], kwargs: { path: 'a' }, metadata: null },
  });
  expect(response.json).toMatchObject({ decision: 'requires_approval' });
  return (response.json as { action_id: string }).action_id;
}

describe('cancelling a held call', () => {
  test('the action becomes cancelled with the reason; approving it afterwards is a clear 409', async () => {
    await start();
    const id = await held();
    const cancelled = await t.request('POST', `/v1/actions/${id}/cancel`, {
      body: { reason: 'the MCP client cancelled the call: user pressed stop' },
    });
    expect(cancelled.status).toBe(200);
    expect(cancelled.json).toMatchObject({ status: 'denied', cancelled: true });
    expect((cancelled.json as { message: string }).message).toContain('user pressed stop');
    const stored = await t.server.store.actions.get(id);
    expect(stored).toMatchObject({
      status: 'cancelled',
      notes: 'the MCP client cancelled the call: user pressed stop',
    });
    expect(stored?.decidedAt).not.toBeNull();

    const approve = await t.admin('POST', `/api/v1/approvals/${id}/approve`, { body: {} });
    expect(approve.status).toBe(409);
    expect(approve.text).toContain('was cancelled by its agent while it was held');
    expect((await t.server.store.actions.get(id))?.status).toBe('cancelled');

    // The agent's status poll says it will not run.
    const status = await t.request('GET', `/status/${id}`);
    expect(status.json).toMatchObject({ status: 'denied' });
    // And the action log filters on it.
    const listed = await t.admin('GET', '/api/v1/actions?status=cancelled');
    expect((listed.json as { items: { id: string }[] }).items.map((a) => a.id)).toEqual([id]);
  });

  test('a call decided first stays decided: cancelling it is a 409, and an outcome cannot follow', async () => {
    await start();
    const id = await held();
    expect((await t.admin('POST', `/api/v1/approvals/${id}/deny`, { body: {} })).status).toBe(200);
    const cancelled = await t.request('POST', `/v1/actions/${id}/cancel`, { body: {} });
    expect(cancelled.status).toBe(409);
    expect(cancelled.text).toContain('already denied');
    expect((await t.server.store.actions.get(id))?.status).toBe('denied');
  });

  test('bad bodies and other keys are refused', async () => {
    await start();
    const id = await held();
    const bad = await t.request('POST', `/v1/actions/${id}/cancel`, { body: { reason: 5 } });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('The body must be {} or');
    const other = await t.request('POST', `/v1/actions/${id}/cancel`, {
      body: {},
      key: t.testKey,
    });
    expect(other.status).toBe(404);
    expect((await t.server.store.actions.get(id))?.status).toBe('pending');
  });
});
