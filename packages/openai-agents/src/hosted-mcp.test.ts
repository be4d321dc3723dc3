// The hosted MCP tool's approval hook mapped onto Arden: a model (the SDK's Model interface,
// offline) answers with OpenAI's mcp_approval_request item, the SDK calls onApproval, and the
// approval response it sends back on the next turn carries Arden's decision.

import { configure } from '@arden/core';
import { Agent, hostedMcpTool, type Model, run } from '@openai/agents';
import { describe, expect, it } from 'vitest';
import { arden, useTestArden } from './adapter-test-setup';
import { hostedMcpApproval } from './index';
import { approvalRequestingModel, approvalResponse } from './test-helpers';

useTestArden();

function githubAgent(model: Model) {
  return new Agent({
    name: 'coder',
    model,
    tools: [
      hostedMcpTool({
        serverLabel: 'github',
        serverUrl: 'https://mcp.example.test/github',
        requireApproval: 'always',
        onApproval: hostedMcpApproval(),
      }),
    ],
  });
}

describe('hostedMcpApproval', () => {
  it('rejects a call a policy blocks, as mcp.<serverLabel>.<tool>, with the reason for the model', async () => {
    arden.setDecisions({ 'mcp.github.delete_file': 'block' });
    const model = approvalRequestingModel();
    const result = await run(githubAgent(model), 'clean up');
    expect(result.finalOutput).toBe('done');
    expect(arden.checks).toHaveLength(1);
    expect(arden.checks[0]).toMatchObject({
      toolName: 'mcp.github.delete_file',
      kwargs: { path: 'README.md' },
      metadata: { mcp: { server: 'github', tool: 'delete_file', hosted: true } },
    });
    expect(approvalResponse(model)).toMatchObject({
      approve: false,
      approval_request_id: expect.stringMatching(/^mcpr_\d+$/),
    });
    expect(approvalResponse(model)?.reason).toContain('mcp.github.delete_file');
  });

  it('approves an allowed call', async () => {
    const model = approvalRequestingModel();
    await run(githubAgent(model), 'clean up');
    expect(arden.checks.map((check) => check.toolName)).toEqual(['mcp.github.delete_file']);
    expect(approvalResponse(model)?.approve).toBe(true);
  });

  it('holds a call until an approver decides in Arden', async () => {
    arden.setDecisions({ 'mcp.github.delete_file': 'requires_approval' });
    const model = approvalRequestingModel();
    const running = run(githubAgent(model), 'clean up');
    const held = await arden.nextPending();
    expect(model.requests).toHaveLength(1);
    arden.deny(held.actionId, 'not the README');
    await running;
    expect(approvalResponse(model)).toMatchObject({ approve: false });
    expect(approvalResponse(model)?.reason).toContain('not the README');
  });

  it('under configure(), warns once that a hosted MCP tool without the hook runs unseen', async () => {
    const warnings: string[] = [];
    const silent = () => {};
    configure({
      ...arden.options(),
      logger: {
        debug: silent,
        info: silent,
        error: silent,
        warn: (message) => warnings.push(message),
      },
    });
    const agent = new Agent({
      name: 'coder',
      model: approvalRequestingModel(),
      tools: [hostedMcpTool({ serverLabel: 'unseen', serverUrl: 'https://mcp.example.test/x' })],
    });
    await agent.getAllTools(undefined as never);
    await agent.getAllTools(undefined as never);
    expect(warnings.filter((w) => w.includes('"unseen"'))).toHaveLength(1);
    expect(warnings.join('\n')).toContain(
      "requireApproval: 'always' and onApproval: hostedMcpApproval()",
    );
  });
});
