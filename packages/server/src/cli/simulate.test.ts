import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import type { CliIo } from './io';
import { run } from './main';

// `arden policies simulate` against a real server (SQLite and PostgreSQL): the summary by kind,
// and exit 1 when a flip named by the file's simulation.forbid or --fail-on happens against the
// current policies.

let t: AdminTestServer;
let dir: string;
let env: Record<string, string>;

const currentYaml = `policies:
  - name: refunds
    tool: stripe.issue_refund
    rules:
      - if: args.amount <= 50
        then: allow
    default: requires_approval
`;
// Held refunds become blocks; nothing that was allowed changes.
const stricterYaml = currentYaml.replace('default: requires_approval', 'default: block');
// Small refunds become held.
const heldYaml = currentYaml.replace('args.amount <= 50', 'args.amount <= 10');
// The gate in the file itself: the first forbids what held.yaml does, the second what it does not.
const heldForbiddenYaml = `${heldYaml}simulation:\n  forbid: [allow->block, allow->held]\n`;
const stricterGatedYaml = `${stricterYaml}simulation:\n  forbid:\n    - allow->block\n    - allow → held\n`;

/** `arden policies simulate -f FILE --agent <the test agent> …extra`. */
function simulate(file: string, extra: string[]) {
  return arden(['policies', 'simulate', '-f', file, '--agent', t.agent.name, ...extra]);
}

async function arden(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env,
    cwd: dir,
  };
  const code = await run(argv, io);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  t = await startAdminTestServer();
  dir = mkdtempSync(join(tmpdir(), 'arden-simulate-'));
  env = { ARDEN_URL: t.url, ARDEN_ADMIN_TOKEN: t.tokens.viewer };
  writeFileSync(join(dir, 'current.yaml'), currentYaml);
  writeFileSync(join(dir, 'stricter.yaml'), stricterYaml);
  writeFileSync(join(dir, 'held.yaml'), heldYaml);
  writeFileSync(join(dir, 'held-forbidden.yaml'), heldForbiddenYaml);
  writeFileSync(join(dir, 'stricter-gated.yaml'), stricterGatedYaml);
  writeFileSync(
    join(dir, 'bad-gate.yaml'),
    `${currentYaml}simulation:\n  forbid: [allow-to-block]\n`,
  );
  for (const amount of [20, 30, 500]) {
    const response = await t.request('POST', '/policy/check', {
      key: t.testKey,
      body: { tool_name: 'stripe.issue_refund', args: [], kwargs: { amount }, metadata: {} },
    });
    expect(response.status).toBe(200);
  }
  const put = await t.admin('PUT', `/api/v1/agents/${t.agent.id}/policies/test`, {
    body: {
      policies: [
        {
          name: 'refunds',
          tool: 'stripe.issue_refund',
          rules: [{ if: 'args.amount <= 50', then: 'allow' }],
          default: 'requires_approval',
        },
      ],
    },
  });
  expect(put.status).toBe(200);
});

afterAll(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('arden policies simulate', () => {
  it('prints the flips by kind and exits 0 when no forbidden flip happens', async () => {
    const result = await simulate('stricter.yaml', [
      '--since',
      '30d',
      '--fail-on',
      'allow->block,allow->held',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('3 calls in the window, 3 decided');
    expect(result.stdout).toMatch(
      /Against the current policies: 1 call would change\n {2}held → block +1\n/,
    );
    expect(result.stdout).toMatch(
      /Against the logged decisions: 1 call would change\n {2}allow → block +1\n/,
    );
  });

  it('exits 1 when a flip named by --fail-on happens, and says which', async () => {
    const result = await simulate('held.yaml', ['--tool', 'stripe.*', '--fail-on', 'allow->held']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('allow → held');
    expect(result.stderr).toContain(
      'Forbidden flips against the current policies: 2 × allow → held',
    );
  });

  it("exits 1 when a flip the file's simulation.forbid names happens, without --fail-on", async () => {
    const result = await simulate('held-forbidden.yaml', ['--since', '30d']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "Forbidden flips against the current policies: 2 × allow → held (held-forbidden.yaml's simulation.forbid)",
    );
  });

  it("exits 0 when the file forbids only flips that do not happen; --fail-on adds to the file's list", async () => {
    const passes = await simulate('stricter-gated.yaml', []);
    expect(passes.stderr).toBe('');
    expect(passes.code).toBe(0);
    expect(passes.stdout).toMatch(/held → block +1\n/);
    const flagged = await simulate('stricter-gated.yaml', ['--fail-on', 'held->block']);
    expect(flagged.code).toBe(1);
    expect(flagged.stderr).toContain('1 × held → block (--fail-on)');
  });

  it('refuses a file whose simulation.forbid names something that is not a flip (exit 3)', async () => {
    const result = await simulate('bad-gate.yaml', []);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(
      /bad-gate\.yaml:9:\d+: simulation\.forbid\[0\]: "allow-to-block" is not a flip/,
    );
  });

  it('samples, and refuses a flip it cannot read with exit 2', async () => {
    const sampled = await simulate('current.yaml', ['--since', 'all', '--sample', '2', '--json']);
    expect(sampled.code).toBe(0);
    expect(JSON.parse(sampled.stdout)).toMatchObject({
      total: 3,
      evaluated: 2,
      sampled: true,
      vs_current: { changed: 0 },
    });
    const bad = await simulate('current.yaml', ['--fail-on', 'allow-to-block']);
    expect(bad.code).toBe(2);
  });

  it('apply and diff ignore simulation: it is never part of the saved policy set', async () => {
    const admin = { ...env, ARDEN_ADMIN_TOKEN: t.tokens.admin };
    const saved = env;
    env = admin;
    try {
      const diff = await arden([
        'policies',
        'diff',
        '-f',
        'stricter-gated.yaml',
        '--agent',
        t.agent.name,
      ]);
      expect(diff.code).toBe(0);
      expect(diff.stdout).not.toContain('simulation');
      const apply = await arden([
        'policies',
        'apply',
        '-f',
        'stricter-gated.yaml',
        '--agent',
        t.agent.name,
      ]);
      expect(apply.code, apply.stderr).toBe(0);
    } finally {
      env = saved;
    }
    const current = await t.admin('GET', `/api/v1/agents/${t.agent.id}/policies/test`);
    expect(current.status).toBe(200);
    expect(JSON.stringify(current.json)).not.toContain('simulation');
    expect(current.json.policies).toEqual([
      {
        name: 'refunds',
        tool: 'stripe.issue_refund',
        rules: [{ if: 'args.amount <= 50', then: 'allow' }],
        default: 'block',
      },
    ]);
  });
});
