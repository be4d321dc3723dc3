import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import type { CliIo } from './io';
import { run } from './main';

// `arden actions reveal` prints an action's sensitive arguments (a policy's `redact`) in full,
// byte for byte, for an admin's token; the server logs the read. `arden actions reads` lists the
// log. Against a listening server (the CLI talks HTTP).

async function arden(argv: string[], env: Record<string, string | undefined>) {
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
    cwd: process.cwd(),
  };
  const code = await run(argv, io);
  return { code, stdout, stderr };
}

const cardNumber = '4242424242424242';
// As the agent sends it: spaces, 1.0 and a 20-digit integer that JSON.parse would round.
const verbatim = `{"card": {"number": "${cardNumber}", "cvc": "123"}, "order_id": 12345678901234567891, "amount": 1.0}`;

let t: AdminTestServer;
let env: Record<string, string>;
let actionId = '';
let plainId = '';

beforeAll(async () => {
  t = await startAdminTestServer({
    workers: false,
    channels: { secretsKey: 'cli-actions-test-secrets-key-0123456789abcdef' },
  } as never);
  env = { ARDEN_URL: t.url, ARDEN_ADMIN_TOKEN: t.tokens.admin };
  await t.server.policies.saveSet(t.agent.id, 'live', [
    { name: 'Payments', tool: 'pay', action: 'requires_approval', redact: ['card.number'] },
  ]);
  const check = async (kwargs: string) => {
    const response = await t.request('POST', '/policy/check', {
      raw: `{"tool_name": "pay", "args": [], "kwargs": ${kwargs}}`,
    });
    expect(response.status, response.text).toBe(200);
    return response.json.action_id as string;
  };
  actionId = await check(verbatim);
  plainId = await check('{"amount": 2}');
});

afterAll(async () => {
  await t?.close();
});

describe('arden actions', () => {
  it('reveal prints the arguments exact for an admin, and the read is logged', async () => {
    const revealed = await arden(['actions', 'reveal', actionId, '--reason', 'chargeback 7'], env);
    expect(revealed.code, revealed.stderr).toBe(0);
    expect(revealed.stdout).toBe(`args: []\nkwargs: ${verbatim}\nsensitive paths: card.number\n`);
    expect(revealed.stderr).toMatch(/This read was logged at .*\(reason: chargeback 7\)/);

    const json = await arden(['actions', 'reveal', actionId, '--json'], env);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      action_id: actionId,
      kwargs_json: verbatim,
      args_json: '[]',
      paths: ['card.number'],
    });

    const reads = await arden(['actions', 'reads', actionId], {
      ...env,
      ARDEN_ADMIN_TOKEN: t.tokens.viewer,
    });
    expect(reads.code).toBe(0);
    const lines = reads.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain(t.emails.admin);
    expect(lines[1]).toContain('chargeback 7');
    expect(lines[2]).toContain(t.emails.admin);
    expect(reads.stdout).not.toContain(cardNumber);
  });

  it("refuses a token that is not an admin's, saying so, and logs nothing", async () => {
    const before = (await t.admin('GET', `/api/v1/actions/${actionId}/sensitive/reads`)).json.items
      .length;
    for (const role of ['viewer', 'approver'] as const) {
      const refused = await arden(['actions', 'reveal', actionId], {
        ...env,
        ARDEN_ADMIN_TOKEN: t.tokens[role],
      });
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toContain("this token is not an admin's");
      expect(refused.stderr).not.toContain(cardNumber);
    }
    const after = (await t.admin('GET', `/api/v1/actions/${actionId}/sensitive/reads`)).json.items
      .length;
    expect(after).toBe(before);
  });

  it('says why when there is nothing to reveal, no such action, or no action id', async () => {
    const plain = await arden(['actions', 'reveal', plainId], env);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain('has no sensitive arguments');
    const missing = await arden(['actions', 'reveal', 'no-such-action'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No action no-such-action');
    const none = await arden(['actions', 'reads', plainId], env);
    expect(none.stdout).toContain('Nobody has read');
    expect((await arden(['actions', 'reveal'], env)).code).toBe(2);
    expect((await arden(['actions', 'frobnicate', actionId], env)).code).toBe(2);
    const help = await arden(['actions', '--help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('arden actions reveal ACTION_ID');
  });
});
