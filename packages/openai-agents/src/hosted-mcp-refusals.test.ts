// hostedMcpApproval's refusals: a hosted MCP approval request Arden cannot read (or whose server
// label is not a usable Arden name) is rejected unchecked; when Arden cannot be reached the call is
// rejected (fail closed) unless `onUnavailable: 'allow'`; an error that is not a denial (a wrong
// key) fails the run rather than becoming an approval either way.

import { createArden, type UnavailableBehaviour } from '@arden/core';
import { Agent, hostedMcpTool, type Model, run } from '@openai/agents';
import { describe, expect, it } from 'vitest';
import { arden, useTestArden } from './adapter-test-setup';
import { hostedMcpApproval } from './index';
import { approvalRequestingModel, approvalResponse } from './test-helpers';

useTestArden();

function agentWith(model: Model, serverLabel: string, onApproval = hostedMcpApproval()) {
  return new Agent({
    name: 'coder',
    model,
    tools: [
      hostedMcpTool({
        serverLabel,
        serverUrl: 'https://mcp.example.test/github',
        requireApproval: 'always',
        onApproval,
      }),
    ],
  });
}

const deleteReadme = { server_label: 'github', name: 'delete_file', arguments: '{"path":"a"}' };

/** An Arden whose every request fails as `fetch` does. */
function ardenFetching(fetch: typeof globalThis.fetch, onUnavailable?: UnavailableBehaviour) {
  return createArden({
    apiKey: arden.apiKey,
    apiUrl: 'http://arden.test',
    fetch,
    retryAttempts: 0,
    logLevel: 'silent',
    ...(onUnavailable ? { onUnavailable } : {}),
  });
}
const unreachable = (async () => {
  throw new TypeError('fetch failed');
}) as typeof globalThis.fetch;

describe('hostedMcpApproval refuses what it cannot check', () => {
  it('rejects an approval request it cannot read (no tool name, no server label), unchecked', async () => {
    // The SDK finds the hosted tool by its label before calling the hook: the hook is called
    // directly here with what OpenAI could send.
    const hook = hostedMcpApproval();
    for (const providerData of [{ server_label: 'github' }, { name: 'delete_file' }, {}]) {
      const answer = await hook(undefined as never, { rawItem: { providerData } } as never);
      expect(answer.approve).toBe(false);
      expect(answer.reason).toContain('could not read this MCP approval request');
    }
    expect(await hook(undefined as never, undefined as never)).toMatchObject({ approve: false });
    expect(arden.checks).toEqual([]);
  });

  it('rejects a server label that is not a usable Arden name, unchecked', async () => {
    const model = approvalRequestingModel({ ...deleteReadme, server_label: 'git.hub' });
    await run(agentWith(model, 'git.hub'), 'clean up');
    expect(arden.checks).toEqual([]);
    expect(approvalResponse(model)).toMatchObject({ approve: false });
    expect(approvalResponse(model)?.reason).toContain(
      '"git.hub" is not usable in Arden tool names',
    );
  });

  it('Arden unreachable: rejected (fail closed) by default', async () => {
    const model = approvalRequestingModel(deleteReadme);
    await run(
      agentWith(model, 'github', hostedMcpApproval({ arden: ardenFetching(unreachable) })),
      'clean up',
    );
    expect(approvalResponse(model)?.approve).toBe(false);
    expect(approvalResponse(model)?.reason).toMatch(/mcp\.github\.delete_file/);
  });

  it("Arden unreachable with onUnavailable: 'allow': approved unchecked", async () => {
    const model = approvalRequestingModel(deleteReadme);
    await run(
      agentWith(model, 'github', hostedMcpApproval({ arden: ardenFetching(unreachable, 'allow') })),
      'clean up',
    );
    expect(approvalResponse(model)?.approve).toBe(true);
  });

  it('an error that is not a denial (a revoked key) fails the run: no approval response is sent', async () => {
    const unauthorized = (async () =>
      new Response(JSON.stringify({ error: 'The API key is not valid.' }), {
        status: 401,
        headers: { 'content-type': 'application/json' },
      })) as typeof globalThis.fetch;
    const model = approvalRequestingModel(deleteReadme);
    await expect(
      run(
        agentWith(
          model,
          'github',
          hostedMcpApproval({ arden: ardenFetching(unauthorized, 'allow') }),
        ),
        'clean up',
      ),
    ).rejects.toThrow(/API key is not valid/);
    expect(model.requests).toHaveLength(1);
  });
});
