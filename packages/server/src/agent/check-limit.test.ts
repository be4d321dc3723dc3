// The tool-call check's own body limits (ARDEN_CHECK_BODY_LIMIT, 256 KiB by default, and
// ARDEN_CHECK_VALUE_LIMIT JSON values): a larger check is refused with a JSON 413 that says how
// to raise the limit, and every client fails closed.
import { ArdenApiError, createArden } from '@arden/core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defaultCheckBodyLimit, defaultCheckValueLimit } from '../config';
import { startTestServer, type TestServer } from '../test-fixtures/harness';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer();
  await t.server.policies.saveSet(t.agent.id, 'live', [
    {
      name: 'Writes',
      tool: 'files.write',
      rules: [{ if: 'args.content.size() > 0', then: 'allow' }],
      default: 'block',
    },
  ]);
});

afterAll(async () => {
  await t.close();
});

/** A check of exactly `bytes` bytes of JSON. */
function checkOf(bytes: number): string {
  const empty = JSON.stringify({ tool_name: 'files.write', kwargs: { content: '' } });
  const body = JSON.stringify({
    tool_name: 'files.write',
    kwargs: { content: 'x'.repeat(bytes - empty.length) },
  });
  expect(Buffer.byteLength(body)).toBe(bytes);
  return body;
}

const post = (raw: string) =>
  t.request('POST', '/policy/check', { raw, headers: { 'content-type': 'application/json' } });

describe('POST /policy/check and the check body limit', () => {
  test('the default is 256 KiB, below the 1 MiB of other routes', () => {
    expect(defaultCheckBodyLimit).toBe(256 * 1024);
    expect(t.server.config.checkBodyLimit).toBe(defaultCheckBodyLimit);
    expect(t.server.config.bodyLimit).toBe(1024 * 1024);
  });

  test('a check exactly at the limit is decided', async () => {
    const response = await post(checkOf(defaultCheckBodyLimit));
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ decision: 'allow', policy: { name: 'Writes' } });
  });

  test('one byte over: a JSON 413 naming the limit, the setting and what to do; nothing is logged', async () => {
    const before = await t.server.store.actions.count({ agentId: t.agent.id });
    const response = await post(checkOf(defaultCheckBodyLimit + 1));
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('connection')).toBe('close');
    expect(response.json).toMatchObject({
      code: 'payload_too_large',
      limit: defaultCheckBodyLimit,
      setting: 'ARDEN_CHECK_BODY_LIMIT',
    });
    expect(response.json.error).toContain('262144 bytes (256 KiB)');
    expect(response.json.error).toContain('must not run');
    expect(response.json.error).toContain('raise ARDEN_CHECK_BODY_LIMIT');
    expect(await t.server.store.actions.count({ agentId: t.agent.id })).toBe(before);
  });

  test('other agent routes keep the general limit (a 300 KiB usage report is read)', async () => {
    const response = await t.request('POST', '/token-usage', {
      body: {
        model: 'gpt-4o',
        prompt_tokens: 1,
        completion_tokens: 1,
        session_id: `s-${'x'.repeat(300 * 1024)}`,
      },
    });
    // Read and judged on its merits (a session id that long is refused as a field), not a 413.
    expect(response.status).not.toBe(413);
  });

  test('a raised limit takes larger checks', async () => {
    const raised = await startTestServer({ checkBodyLimit: '512kb' }, { listen: false });
    try {
      expect(raised.server.config.checkBodyLimit).toBe(512 * 1024);
      await raised.server.policies.saveSet(raised.agent.id, 'live', [
        { name: 'Writes', tool: 'files.write', action: 'allow' },
      ]);
      const response = await raised.request('POST', '/policy/check', {
        raw: checkOf(400 * 1024),
        headers: { 'content-type': 'application/json' },
      });
      expect(response.status).toBe(200);
    } finally {
      await raised.close();
    }
  });
});

describe('clients fail closed on a check over the limit', () => {
  test('guardTool does not run the tool, and says how to raise the limit', async () => {
    const arden = createArden({ apiKey: t.liveKey, apiUrl: t.url, logLevel: 'silent' });
    let ran = false;
    const write = arden.guardTool('files.write', async (_input: { content: string }) => {
      ran = true;
    });
    const error = await write({ content: 'x'.repeat(300 * 1024) }).catch((caught) => caught);
    expect(ran).toBe(false);
    expect(ArdenApiError.isInstance(error)).toBe(true);
    expect((error as ArdenApiError).statusCode).toBe(413);
    expect((error as Error).message).toContain('ARDEN_CHECK_BODY_LIMIT');
    await arden.shutdown();
  });

  test('the Claude Code hook endpoint denies a large Write with the reason, not a crash', async () => {
    const response = await t.request('POST', '/v1/hooks/claude-code', {
      body: {
        hook_event_name: 'PreToolUse',
        session_id: 'big-write',
        tool_name: 'Write',
        tool_use_id: 'toolu_1',
        tool_input: { file_path: '/tmp/big.txt', content: 'x'.repeat(300 * 1024) },
      },
    });
    expect(response.status).toBe(200);
    expect(response.json.hookSpecificOutput).toMatchObject({
      hookEventName: 'PreToolUse',
      permissionDecision: 'deny',
    });
    const reason = response.json.hookSpecificOutput.permissionDecisionReason as string;
    expect(reason).toContain('did not run');
    expect(reason).toContain('ARDEN_CHECK_BODY_LIMIT');
  });
});

/** The JSON values in `value` (itself, and every element and member value within). */
function countValues(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + countValues(item), 1);
  if (value !== null && typeof value === 'object') {
    return Object.values(value).reduce((sum: number, item) => sum + countValues(item), 1);
  }
  return 1;
}

/** A check of exactly `values` JSON values (the rest of the body is 5). */
function checkOfValues(values: number): string {
  const body = { tool_name: 'files.write', kwargs: { content: 'x', l: Array(values - 5).fill(1) } };
  expect(countValues(body)).toBe(values);
  return JSON.stringify(body);
}

describe('the check value limit (ARDEN_CHECK_VALUE_LIMIT)', () => {
  test('is on by default, far above an ordinary call, and its bodies fit in the byte limit', () => {
    expect(t.server.config.checkValueLimit).toBe(defaultCheckValueLimit);
    expect(defaultCheckValueLimit).toBeGreaterThanOrEqual(8_192);
    expect(checkOfValues(defaultCheckValueLimit + 1).length).toBeLessThan(defaultCheckBodyLimit);
  });

  test('a check of exactly the limit is decided; one value more is a JSON 413 naming the setting, not logged', async () => {
    const decided = await post(checkOfValues(defaultCheckValueLimit));
    expect(decided.status).toBe(200);
    expect(decided.json).toMatchObject({ decision: 'allow', policy: { name: 'Writes' } });
    const before = await t.server.store.actions.count({ agentId: t.agent.id });
    const response = await post(checkOfValues(defaultCheckValueLimit + 1));
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.json).toMatchObject({
      code: 'payload_too_large',
      limit: defaultCheckValueLimit,
      setting: 'ARDEN_CHECK_VALUE_LIMIT',
    });
    expect(response.json.error).toContain(
      `more JSON values than the server's limit for a check, ${defaultCheckValueLimit}`,
    );
    expect(response.json.error).toContain('must not run');
    expect(response.json.error).toContain('raise ARDEN_CHECK_VALUE_LIMIT');
    expect(await t.server.store.actions.count({ agentId: t.agent.id })).toBe(before);
  });

  test('guardTool: one value over the limit is refused with a 413 and the tool never runs; at the limit it runs', async () => {
    // The body core sends for a call, to size the list so the whole body has the values wanted.
    const sent: string[] = [];
    const arden = createArden({
      apiKey: t.liveKey,
      apiUrl: t.url,
      logLevel: 'silent',
      fetch: (input, init) => {
        if (String(input).endsWith('/policy/check')) sent.push(String(init?.body));
        return globalThis.fetch(input, init);
      },
    });
    let ran = 0;
    const write = arden.guardTool(
      'files.write',
      async (_input: { content: string; l: number[] }) => {
        ran++;
        return 'written';
      },
    );
    expect(await write({ content: 'x', l: [1] })).toBe('written');
    const overhead = countValues(JSON.parse(sent[0] as string)) - 1;
    const atLimit = Array(defaultCheckValueLimit - overhead).fill(1);
    expect(await write({ content: 'x', l: atLimit })).toBe('written');
    expect(countValues(JSON.parse(sent[1] as string))).toBe(defaultCheckValueLimit);
    expect(ran).toBe(2);
    const error = await write({ content: 'x', l: [...atLimit, 1] }).catch((caught) => caught);
    expect(countValues(JSON.parse(sent[2] as string))).toBe(defaultCheckValueLimit + 1);
    expect(ran).toBe(2);
    expect(ArdenApiError.isInstance(error)).toBe(true);
    expect((error as ArdenApiError).statusCode).toBe(413);
    expect((error as Error).message).toContain('ARDEN_CHECK_VALUE_LIMIT');
    await arden.shutdown();
  });

  test('the Claude Code hook endpoint denies a call of too many values with the reason', async () => {
    const response = await t.request('POST', '/v1/hooks/claude-code', {
      body: {
        hook_event_name: 'PreToolUse',
        session_id: 'many-values',
        tool_name: 'Write',
        tool_use_id: 'toolu_2',
        tool_input: { file_path: '/tmp/x.json', items: Array(defaultCheckValueLimit).fill(0) },
      },
    });
    expect(response.status).toBe(200);
    expect(response.json.hookSpecificOutput).toMatchObject({
      hookEventName: 'PreToolUse',
      permissionDecision: 'deny',
    });
    const reason = response.json.hookSpecificOutput.permissionDecisionReason as string;
    expect(reason).toContain('did not run');
    expect(reason).toContain('ARDEN_CHECK_VALUE_LIMIT');
  });

  test('a raised limit takes checks of more values', async () => {
    const raised = await startTestServer(
      { checkValueLimit: defaultCheckValueLimit * 2 },
      { listen: false },
    );
    try {
      await raised.server.policies.saveSet(raised.agent.id, 'live', [
        { name: 'Writes', tool: 'files.write', action: 'allow' },
      ]);
      const response = await raised.request('POST', '/policy/check', {
        raw: checkOfValues(defaultCheckValueLimit + 1),
        headers: { 'content-type': 'application/json' },
      });
      expect(response.status).toBe(200);
    } finally {
      await raised.close();
    }
  });
});
