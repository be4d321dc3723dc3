import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../test-fixtures/harness';

let server: TestServer;
afterEach(async () => {
  await server?.close();
});

async function check(toolName: string) {
  const response = await server.request('POST', '/policy/check', {
    body: { tool_name: toolName, args: [], kwargs: {}, metadata: null },
  });
  return response.json.action_id as string;
}

describe('POST /v1/actions/results (batched outcome reports)', () => {
  it('records every report of the batch and lists those it refused', async () => {
    server = await startTestServer({}, { listen: false });
    await server.server.policies.saveSet(server.agent.id, 'live', [
      { name: 'no drops', tool: 'db.drop', action: 'block' },
    ]);
    const ran = await check('crm.lookup');
    const alsoRan = await check('crm.lookup');
    const blocked = await check('db.drop');
    const response = await server.request('POST', '/v1/actions/results', {
      body: {
        results: [
          { action_id: ran, status: 'succeeded', duration_ms: 3.5 },
          { action_id: alsoRan, status: 'failed', duration_ms: 1, error: 'TypeError: boom' },
          { action_id: blocked, status: 'succeeded', duration_ms: 1 },
          { action_id: 'act_unknown', status: 'succeeded', duration_ms: 1 },
        ],
      },
    });
    expect(response.status).toBe(200);
    expect(response.json).toEqual({ accepted: 2, rejected: [blocked, 'act_unknown'] });
    const first = await server.server.store.actions.get(ran);
    expect(first).toMatchObject({ resultStatus: 'succeeded', durationMs: 3.5 });
    const second = await server.server.store.actions.get(alsoRan);
    expect(second).toMatchObject({ resultStatus: 'failed', resultError: 'TypeError: boom' });
  });

  it('records the run of a denied held call (a client ran it anyway), never one still held or its claim', async () => {
    server = await startTestServer({}, { listen: false });
    await server.server.policies.saveSet(server.agent.id, 'live', [
      { name: 'pushes are held', tool: 'git.push', action: 'requires_approval' },
    ]);
    const denied = await check('git.push');
    const held = await check('git.push');
    await server.server.approvals.decide(denied, { decision: 'deny', userId: null });
    const response = await server.request('POST', '/v1/actions/results', {
      body: {
        results: [
          { action_id: denied, status: 'failed', duration_ms: 1, error: 'ran against a denial' },
          { action_id: held, status: 'succeeded', duration_ms: 1 },
        ],
      },
    });
    expect(response.json).toEqual({ accepted: 1, rejected: [held] });
    expect(await server.server.store.actions.get(denied)).toMatchObject({
      status: 'denied',
      resultStatus: 'failed',
      resultError: 'ran against a denial',
    });
    // The single report too; a denied call's run still cannot be claimed.
    const single = await server.request('POST', `/v1/actions/${denied}/result`, {
      body: { status: 'failed', duration_ms: 2, error: 'again' },
    });
    expect(single.status).toBe(200);
    const claim = await server.request('POST', `/v1/actions/${denied}/run`, { body: {} });
    expect(claim.status).toBe(409);
  });

  it('never records a report for another environment’s action', async () => {
    server = await startTestServer({}, { listen: false });
    const live = await check('crm.lookup');
    const response = await server.request('POST', '/v1/actions/results', {
      key: server.testKey,
      body: { results: [{ action_id: live, status: 'succeeded', duration_ms: 1 }] },
    });
    expect(response.json).toEqual({ accepted: 0, rejected: [live] });
    expect((await server.server.store.actions.get(live))?.resultStatus).toBeNull();
  });

  it.each([
    [{}, 'results'],
    [{ results: [] }, 'results'],
    [{ results: [{ status: 'succeeded' }] }, 'results[0].action_id'],
    [{ results: [{ action_id: 'a', status: 'maybe' }] }, 'results[0]'],
  ])('refuses %j naming %s', async (body, field) => {
    server = await startTestServer({}, { listen: false });
    const response = await server.request('POST', '/v1/actions/results', { body });
    expect(response.status).toBe(400);
    expect(response.json.error).toContain(field);
  });
});
