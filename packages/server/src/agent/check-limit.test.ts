// The tool-call check's own body limit (ARDEN_CHECK_BODY_LIMIT, 256 KiB by default): a larger
// check is refused with a JSON 413 that says how to raise it, and every client fails closed.
import { ArdenApiError, createArden } from '@arden/core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defaultCheckBodyLimit } from '../config';
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
