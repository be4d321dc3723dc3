import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parsePolicyFile } from '@arden/policy';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, type TestServer } from '../test-fixtures/harness';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ workers: false });
});

afterAll(async () => {
  await t.close();
});

const check = async (tool: string, kwargs: Record<string, unknown>, metadata?: unknown) =>
  (
    await t.request('POST', '/policy/check', {
      body: { tool_name: tool, kwargs, ...(metadata === undefined ? {} : { metadata }) },
    })
  ).json;

describe('the coding-agents starter pack on the server', () => {
  test('shell.commands decides from the first check, and metadata.mcp reaches conditions', async () => {
    const require = createRequire(import.meta.url);
    const text = readFileSync(require.resolve('@arden/policy/packs/coding-agents.yaml'), 'utf8');
    await t.server.policies.saveSet(t.agent.id, 'live', parsePolicyFile(text).policies);

    const forcePush = await check('claude_code.Bash', { command: 'git push --force origin main' });
    expect(forcePush).toMatchObject({ decision: 'block' });
    expect(JSON.stringify(forcePush)).not.toContain('condition_error');
    expect(await check('claude_code.Bash', { command: 'ls -la && git status' })).toMatchObject({
      decision: 'allow',
    });

    const readOnly = {
      mcp: { server: 'fs', tool: 'read_text_file', annotations: { readOnlyHint: true } },
    };
    // The hint of a server nobody marked trusted never relaxes a rule: held like any MCP tool.
    expect(await check('mcp.fs.read_text_file', { path: 'a' }, readOnly)).toMatchObject({
      decision: 'requires_approval',
    });
    await t.server.mcp.setTrusted(t.agent.id, 'live', 'fs', true, null);
    expect(await check('mcp.fs.read_text_file', { path: 'a' }, readOnly)).toMatchObject({
      decision: 'allow',
    });
    // Without annotations MCP's defaults apply: destructive, so held.
    expect(await check('mcp.fs.write_file', { path: 'a' })).toMatchObject({
      decision: 'requires_approval',
    });
  });
});
