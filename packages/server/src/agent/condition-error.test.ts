// A condition that cannot be evaluated never lets a call through (issue #12, item 1): the check
// is decided by the policy's on_error, the action keeps the rule, the error and the arguments'
// shape (types, not values), and the admin API returns them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';

let t: AdminTestServer;

beforeAll(async () => {
  t = await startAdminTestServer(
    // The docs example over 100 000 integers is a 590 KiB check of 100 000 values, above the
    // default check limits (ARDEN_CHECK_BODY_LIMIT, ARDEN_CHECK_VALUE_LIMIT).
    { workers: false, checkBodyLimit: '1mb', checkValueLimit: 200_000 },
    { listen: false },
  );
  await t.server.policies.saveSet(t.agent.id, 'live', [
    {
      name: 'Refunds',
      tool: 'issue_refund',
      rules: [{ if: 'args.amount > 100', then: 'block' }],
      default: 'allow',
    },
    {
      name: 'Email',
      tool: 'send_email',
      rules: [{ if: 'args.to.exists(r, !r.endsWith("@corp.com"))', then: 'block' }],
      default: 'allow',
      on_error: 'requires_approval',
    },
    {
      name: 'Sizes',
      tool: 'sizes',
      // About 60 000 units for 60 000 characters (strings are charged per 8 characters).
      rules: [{ if: '(args.s + args.s + args.s).contains("zz")', then: 'block' }],
      default: 'allow',
    },
    {
      name: 'Typed',
      tool: 'transfer',
      args: { amount: 'number' },
      action: 'allow',
    },
  ]);
});

afterAll(async () => {
  await t.close();
});

const check = async (tool: string, kwargs: Record<string, unknown>) =>
  (await t.request('POST', '/policy/check', { body: { tool_name: tool, kwargs } })).json as Record<
    string,
    unknown
  >;

describe('a condition error decides by on_error', () => {
  it('blocks `args.amount > 100` for the string "1000" and logs why', async () => {
    expect((await check('issue_refund', { amount: 50 })).decision).toBe('allow');
    const body = await check('issue_refund', { amount: '1000' });
    expect(body).toMatchObject({
      decision: 'block',
      reason: 'condition_error',
      status: 'completed',
    });
    expect(body.message).toBe(
      `Tool 'issue_refund' is blocked by policy "Refunds": the condition of rule 1 could not be evaluated for these arguments (on_error).`,
    );
    const detail = await t.admin('GET', `/api/v1/actions/${body.action_id}`);
    expect(detail.json).toMatchObject({
      decision: 'block',
      reason: 'condition_error',
      policy: { name: 'Refunds', rule_index: 0 },
      evaluation_errors: [{ rule_index: 0, shape: '{amount: string[4]}' }],
    });
    const error = (detail.json as { evaluation_errors: { message: string }[] })
      .evaluation_errors[0];
    expect(error?.message).toMatch(/no such overload/);
  });

  it('holds the docs example over 100 000 integers when on_error is requires_approval', async () => {
    const to = Array.from({ length: 100_000 }, (_, index) => index);
    const body = await check('send_email', { to });
    expect(body).toMatchObject({
      decision: 'requires_approval',
      reason: 'condition_error',
      status: 'pending',
      on_timeout: 'deny',
    });
    const detail = await t.admin('GET', `/api/v1/actions/${body.action_id}`);
    expect(detail.json).toMatchObject({
      reason: 'condition_error',
      // int once JSON integers reach the engine exactly, double before.
      evaluation_errors: [
        {
          rule_index: 0,
          shape: expect.stringMatching(/^\{to: list<(int|double)\|…>\[100000\]\}$/),
        },
      ],
    });
  });

  it('gives a large check fewer units: the same condition over the same string errs in a check of 250 KiB', async () => {
    // Within a 60 KiB check's units (~88 000), over a 250 KiB check's (~51 000).
    const text = 'x'.repeat(60_000);
    expect(await check('sizes', { s: text })).toMatchObject({
      decision: 'allow',
      reason: 'policy_default',
    });
    const padded = await check('sizes', { s: text, pad: 'y'.repeat(190_000) });
    expect(padded).toMatchObject({ decision: 'block', reason: 'condition_error' });
    const detail = await t.admin('GET', `/api/v1/actions/${padded.action_id}`);
    const error = (detail.json as { evaluation_errors: { message: string }[] })
      .evaluation_errors[0];
    expect(error?.message).toMatch(/evaluation budget exceeded: more than 5\d{4} units/);
  });

  it('refuses arguments that do not have their declared types', async () => {
    const body = await check('transfer', { amount: '12' });
    expect(body).toMatchObject({ decision: 'block', reason: 'invalid_arguments' });
    expect(body.message).toBe(
      `Tool 'transfer' is blocked by policy "Typed": args.amount is a string, not number (declared argument types).`,
    );
    expect((await check('transfer', { amount: 12 })).decision).toBe('allow');
  });
});
