import { describe, expect, it } from 'vitest';
import { mcpVariable } from './mcp-input';

describe('the mcp variable', () => {
  it('takes server and tool from an mcp.<server>.<tool> name, and only the hints from metadata', () => {
    expect(
      mcpVariable('mcp.github.delete_file', {
        server: 'trusted-fs',
        tool: 'read_file',
        annotations: { destructiveHint: true, readOnlyHint: 'yes', other: true },
      } as never),
    ).toEqual({ server: 'github', tool: 'delete_file', annotations: { destructiveHint: true } });
  });

  it('takes server and tool from metadata for a tool the app named otherwise', () => {
    expect(mcpVariable('files.delete', { server: 'fs', tool: 'delete' })).toEqual({
      server: 'fs',
      tool: 'delete',
      annotations: {},
    });
    expect(mcpVariable('stripe.refund', undefined)).toBeNull();
  });
});
