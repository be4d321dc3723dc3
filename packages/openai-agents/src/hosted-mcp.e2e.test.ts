// The hosted MCP tool's approval hook against a real Arden server: OpenAI runs the call with the
// arguments the model wrote, and the SDK's approval answer is yes or no, so an approver's edit
// cannot run there. An approval with edit must be answered no (never yes to the original call),
// naming the approved arguments for the model.

import { configure, createArden, flush } from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { Agent, hostedMcpTool, type Model, run } from '@openai/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostedMcpApproval } from './index';
import { approvalRequestingModel, approvalResponse } from './test-helpers';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({
    environment: 'test',
    policies: [
      {
        name: 'Deleting files outside drafts needs a human',
        tool: 'mcp.github.delete_file',
        rules: [{ if: "!args.path.startsWith('drafts/')", then: 'requires_approval' }],
        default: 'allow',
      },
    ],
  });
  configure({ apiKey: t.key, apiUrl: t.url, logLevel: 'silent', retryAttempts: 0 });
});

afterAll(async () => {
  await flush();
  await t.close();
});

function githubAgent(model: Model, onApproval = hostedMcpApproval()) {
  return new Agent({
    name: 'coder',
    model,
    tools: [
      hostedMcpTool({
        serverLabel: 'github',
        serverUrl: 'https://mcp.example.test/github',
        requireApproval: 'always',
        onApproval,
      }),
    ],
  });
}

describe('hostedMcpApproval (real server)', () => {
  it('an approval in Arden approves the hosted call', async () => {
    const model = approvalRequestingModel('{"path":"notes/old.md"}');
    const running = run(githubAgent(model), 'clean up');
    const held = await t.nextPending({ toolName: 'mcp.github.delete_file' });
    expect(held.kwargsJson).toBe('{"path":"notes/old.md"}');
    await t.approve(held.id, 'fine');
    await running;
    expect(approvalResponse(model)).toMatchObject({ approve: true });
  });

  it('an approval with edit is answered no: OpenAI never runs the original arguments', async () => {
    const model = approvalRequestingModel('{"path":"README.md"}');
    const running = run(githubAgent(model), 'clean up');
    const held = await t.nextPending({ toolName: 'mcp.github.delete_file' });
    await t.approve(held.id, 'the draft, not the README', { kwargs: { path: 'drafts/a.md' } });
    const result = await running;
    expect(result.finalOutput).toBe('done');
    // The answer OpenAI receives: not approved, so its server does not run delete_file(README.md).
    const answer = approvalResponse(model);
    expect(answer?.approve).toBe(false);
    expect(answer?.reason).toContain('changed arguments');
    expect(answer?.reason).toContain('{"path":"drafts/a.md"}');
    // Arden shows the approval and the edit as usual.
    const action = (await t.actions()).find((entry) => entry.id === held.id);
    expect(action?.status).toBe('approved');
    expect(action?.approval?.edits[0]).toMatchObject({
      before: '{"path":"README.md"}',
      after: '{"path":"drafts/a.md"}',
    });
  });

  it('an approval of another call, replayed as this call’s decision, is answered no', async () => {
    // An approved call…
    const first = approvalRequestingModel('{"path":"notes/b.md"}');
    const approved = run(githubAgent(first), 'clean up');
    const held = await t.nextPending({ toolName: 'mcp.github.delete_file' });
    await t.approve(held.id, 'fine');
    await approved;
    expect(approvalResponse(first)?.approve).toBe(true);
    // …whose answer a server (or anything between) hands out for every other action's status.
    const replaying = createArden({
      apiKey: t.key,
      apiUrl: t.url,
      logLevel: 'silent',
      retryAttempts: 0,
      fetch: (input, init) => {
        const url = String(input instanceof Request ? input.url : input);
        return fetch(url.replace(/\/status\/[^/?]+/, `/status/${held.id}`), init);
      },
    });
    const model = approvalRequestingModel('{"path":"README.md"}');
    await run(githubAgent(model, hostedMcpApproval({ arden: replaying })), 'clean up');
    const answer = approvalResponse(model);
    expect(answer?.approve).toBe(false);
    expect(answer?.reason).toContain(
      'only with exactly the arguments that were checked or approved',
    );
    const other = (await t.actions()).filter((entry) => entry.id !== held.id).at(-1);
    expect(other?.kwargsJson).toBe('{"path":"README.md"}');
    expect(other?.status).toBe('pending');
  });
});
