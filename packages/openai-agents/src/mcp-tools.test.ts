// The tools the SDK makes of an agent's mcpServers, under configure()'s interception: checked as
// mcp.<server>.<tool> with the server recorded, through a real MCP server (the official SDK over
// stdio, started by the SDK's MCPServerStdio) and runs driven by a scripted model.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { flush } from '@arden/core';
import { Agent, MCPServerStdio, RunState, run } from '@openai/agents';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { arden, finalText, useTestArden } from './adapter-test-setup';
import { install } from './index';
import { scriptedToolModel } from './test-helpers';

useTestArden();

const fixture = fileURLToPath(new URL('../test-fixtures/notes-server.mjs', import.meta.url));
const directory = mkdtempSync(join(tmpdir(), 'arden-agents-mcp-'));
const servers: MCPServerStdio[] = [];

/** A connected notes server named `name`; what reached it is in `served(name)`. */
async function notesServer(name: string): Promise<MCPServerStdio> {
  const server = new MCPServerStdio({
    name,
    command: process.execPath,
    args: [fixture],
    env: { NOTES_LOG: join(directory, name), PATH: process.env.PATH ?? '' },
  });
  await server.connect();
  servers.push(server);
  return server;
}

/** The calls that reached the server named `name`. */
function served(name: string): string[] {
  try {
    return readFileSync(join(directory, name), 'utf8').trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

let notes: MCPServerStdio;
let archive: MCPServerStdio;

beforeAll(async () => {
  [notes, archive] = await Promise.all([notesServer('notes'), notesServer('archive')]);
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  rmSync(directory, { recursive: true, force: true });
});

beforeEach(() => {
  rmSync(join(directory, 'notes'), { force: true });
  rmSync(join(directory, 'archive'), { force: true });
});

function agentCalling(
  calls: { tool: string; args: Record<string, unknown> }[],
  options: { servers?: MCPServerStdio[]; prefixed?: boolean } = {},
) {
  return new Agent({
    name: 'notes-agent',
    model: scriptedToolModel({ calls }),
    mcpServers: options.servers ?? [notes],
    ...(options.prefixed ? { mcpConfig: { includeServerInToolNames: true } } : {}),
  });
}

describe('MCP server tools under configure()', () => {
  it('checks each as mcp.<server>.<tool>, with the server in the metadata: mcp.* policies govern them', async () => {
    arden.setDecisions({ 'mcp.notes.delete_note': 'block' });
    const result = await run(
      agentCalling([
        { tool: 'read_note', args: { id: 'n1' } },
        { tool: 'delete_note', args: { id: 'n1' } },
      ]),
      'tidy up',
    );
    expect(arden.checks.map((check) => check.toolName)).toEqual([
      'mcp.notes.read_note',
      'mcp.notes.delete_note',
    ]);
    expect(arden.checks[0]?.metadata).toMatchObject({
      framework: 'openai-agents',
      mcp: { server: 'notes', tool: 'read_note' },
    });
    expect(arden.checks[0]?.kwargs).toEqual({ id: 'n1' });
    expect(served('notes')).toEqual(['read_note n1']);
    expect(finalText(result)).toContain('read_note=note n1: buy milk');
    expect(finalText(result)).toContain('delete_note=');
    expect(finalText(result)).toContain('mcp.notes.delete_note');
    await flush();
    expect(arden.results.map((r) => r.actionId)).toEqual([arden.checks[0]?.actionId]);
  });

  it("names the MCP tool's own name when the SDK prefixes it with the server (includeServerInToolNames)", async () => {
    arden.setDecisions({ 'mcp.archive.delete_note': 'block' });
    const result = await run(
      agentCalling(
        [
          { tool: 'mcp_notes__delete_note', args: { id: 'n2' } },
          { tool: 'mcp_archive__delete_note', args: { id: 'n2' } },
        ],
        { servers: [notes, archive], prefixed: true },
      ),
      'delete everywhere',
    );
    expect(arden.checks.map((check) => check.toolName)).toEqual([
      'mcp.notes.delete_note',
      'mcp.archive.delete_note',
    ]);
    expect(served('notes')).toEqual(['delete_note n2']);
    expect(served('archive')).toEqual([]);
    expect(finalText(result)).toContain('mcp_notes__delete_note=deleted n2');
  });

  it('holds a call for approval (wait route) and runs it once approved', async () => {
    arden.setDecisions({ 'mcp.notes.delete_note': 'requires_approval' });
    const running = run(agentCalling([{ tool: 'delete_note', args: { id: 'n3' } }]), 'go');
    const held = await arden.nextPending();
    expect(held.toolName).toBe('mcp.notes.delete_note');
    expect(served('notes')).toEqual([]);
    arden.approve(held.actionId);
    expect(finalText(await running)).toContain('delete_note=deleted n3');
    expect(served('notes')).toEqual(['delete_note n3']);
  });

  it('refuses loudly an agent whose MCP server has no name Arden can use', async () => {
    const unnamed = new MCPServerStdio({ fullCommand: `${process.execPath} ${fixture}` });
    const agent = agentCalling([{ tool: 'read_note', args: { id: 'n1' } }], {
      servers: [unnamed],
    });
    await expect(run(agent, 'go')).rejects.toThrow(/cannot use in tool names/);
    expect(arden.checks).toEqual([]);
  });
});

describe('MCP server tools on the native approval route', () => {
  beforeEach(() => {
    install({ approval: 'native' });
    arden.setDecisions({ 'mcp.notes.delete_note': 'requires_approval' });
  });

  it('interrupts the run for a held call; approved in Arden, a resumed state runs it once', async () => {
    const agent = agentCalling([{ tool: 'delete_note', args: { id: 'n4' } }]);
    const first = await run(agent, 'go');
    expect(first.interruptions.map((item) => item.name)).toEqual(['delete_note']);
    const [held] = arden.pending();
    expect(held?.toolName).toBe('mcp.notes.delete_note');
    expect(held?.metadata).toMatchObject({ mcp: { server: 'notes', tool: 'delete_note' } });
    const saved = first.state.toString();
    arden.approve(held!.actionId);
    const second = await run(agent, await RunState.fromString(agent, saved));
    expect(second.interruptions).toEqual([]);
    expect(finalText(second)).toContain('delete_note=deleted n4');
    expect(served('notes')).toEqual(['delete_note n4']);
    expect(arden.checks).toHaveLength(1);
    await flush();
    expect(arden.results.map((r) => r.actionId)).toEqual([held!.actionId]);
  });

  it('approved by the app (state.approve) in the same process, the call runs once', async () => {
    const agent = agentCalling([{ tool: 'delete_note', args: { id: 'n5' } }]);
    const first = await run(agent, 'go');
    first.state.approve(first.interruptions[0]!);
    const second = await run(agent, first.state);
    expect(finalText(second)).toContain('delete_note=deleted n5');
    expect(served('notes')).toEqual(['delete_note n5']);
  });

  it('an approval of mcp.notes.delete_note never runs a delete_note that now goes to another server', async () => {
    arden.setDecisions({
      'mcp.notes.delete_note': 'requires_approval',
      'mcp.archive.delete_note': 'block',
    });
    const first = await run(agentCalling([{ tool: 'delete_note', args: { id: 'n6' } }]), 'go');
    const saved = first.state.toString();
    arden.approve(arden.pending()[0]!.actionId);
    // The same run resumed by an agent whose delete_note is the archive server's.
    const moved = agentCalling([{ tool: 'delete_note', args: { id: 'n6' } }], {
      servers: [archive],
    });
    const second = await run(moved, await RunState.fromString(moved, saved));
    expect(arden.checks.map((check) => check.toolName)).toEqual([
      'mcp.notes.delete_note',
      'mcp.archive.delete_note',
    ]);
    expect(served('archive')).toEqual([]);
    expect(served('notes')).toEqual([]);
    expect(finalText(second)).toContain('mcp.archive.delete_note');
  });
});
