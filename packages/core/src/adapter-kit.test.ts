import { afterEach, describe, expect, it } from 'vitest';
import {
  approvalModeOf,
  ardenResolver,
  ardenToolName,
  blockedError,
  decisionOf,
  defaultDenialMessage,
  denialOf,
  denialText,
  isPendingApproval,
  patchMethod,
  pendingApprovalMessage,
  resolveAdapterOptions,
  runsUnchecked,
  sharedState,
  type ToolDenial,
  tokenCount,
  validateGuardArguments,
} from './adapter-kit';
import { Arden, type PendingApproval } from './arden';
import {
  ApprovalTimeoutError,
  ArdenApiError,
  ArdenUnavailableError,
  ConfigurationError,
  PolicyDeniedError,
} from './errors';
import { configure } from './index';
import { registry } from './registry';
import { createTestArden } from './test/index';

const instances: Arden[] = [];
function arden(server = createTestArden(), overrides: { onUnavailable?: 'allow' | 'block' } = {}) {
  const instance = new Arden({ ...server.options(), ...overrides });
  instances.push(instance);
  return instance;
}
afterEach(async () => {
  await Promise.all(instances.splice(0).map((instance) => instance.shutdown()));
  await registry().defaultInstance?.shutdown();
  registry().defaultInstance = undefined;
});

function denial(overrides: Partial<ToolDenial>): ToolDenial {
  return {
    toolName: 'stripe.refund',
    actionId: 'act_1',
    reason: 'blocked',
    notes: undefined,
    error: new Error('x'),
    ...overrides,
  };
}

describe('denialOf', () => {
  it('turns a blocked call into a denial with the policy’s reason', () => {
    const error = new PolicyDeniedError({
      toolName: 'refund',
      actionId: 'act_1',
      reason: 'blocked',
      notes: 'Refunds over 50 need a human',
    });
    expect(denialOf(error, 'stripe.refund')).toEqual({
      toolName: 'stripe.refund',
      actionId: 'act_1',
      reason: 'blocked',
      notes: 'Refunds over 50 need a human',
      error,
    });
  });

  it('turns an approver’s denial into a denial with the notes', () => {
    const error = new PolicyDeniedError({
      toolName: 'refund',
      actionId: 'act_2',
      reason: 'denied',
      notes: 'too much',
    });
    expect(denialOf(error, 'refund')).toMatchObject({
      reason: 'denied',
      actionId: 'act_2',
      notes: 'too much',
    });
  });

  it('turns an approval timeout into a timeout, keeping the action', () => {
    const error = new ApprovalTimeoutError({ toolName: 'refund', actionId: 'act_3', timeoutMs: 5 });
    expect(denialOf(error, 'refund')).toEqual({
      toolName: 'refund',
      actionId: 'act_3',
      reason: 'timeout',
      notes: undefined,
      error,
    });
  });

  it('turns an unreachable Arden into unavailable, without an action', () => {
    const error = new ArdenUnavailableError({ message: 'down', toolName: 'refund' });
    expect(denialOf(error, 'refund')).toEqual({
      toolName: 'refund',
      actionId: undefined,
      reason: 'unavailable',
      notes: undefined,
      error,
    });
  });

  it('recognises errors of another installed copy of core', () => {
    const foreign = Object.assign(new Error('blocked'), {
      [Symbol.for('arden.error')]: true,
      [Symbol.for('arden.error.policy-denied')]: true,
      actionId: 'act_4',
      reason: 'blocked',
      notes: 'no',
    });
    expect(denialOf(foreign, 'refund')).toMatchObject({ reason: 'blocked', actionId: 'act_4' });
  });

  it('leaves every other error to be rethrown', () => {
    expect(denialOf(new Error('the tool failed'), 'refund')).toBeUndefined();
    expect(denialOf(new ConfigurationError('no key'), 'refund')).toBeUndefined();
    expect(
      denialOf(new ArdenApiError({ statusCode: 401, path: '/policy/check' }), 'refund'),
    ).toBeUndefined();
    expect(denialOf('a string', 'refund')).toBeUndefined();
    expect(denialOf(undefined, 'refund')).toBeUndefined();
  });
});

describe('defaultDenialMessage', () => {
  it('says a policy blocked the call, with its reason', () => {
    expect(defaultDenialMessage(denial({ reason: 'blocked', notes: 'Never drop tables' }))).toBe(
      'Arden blocked this call to "stripe.refund" by policy: Never drop tables. The tool did not run.',
    );
  });

  it('says an approver denied the call, with the notes', () => {
    expect(defaultDenialMessage(denial({ reason: 'denied', notes: 'too much' }))).toBe(
      'An approver denied this call to "stripe.refund": too much. The tool did not run.',
    );
  });

  it('says nobody decided in time, and that Arden could not be reached', () => {
    expect(defaultDenialMessage(denial({ reason: 'timeout', notes: 'ignored' }))).toBe(
      'This call to "stripe.refund" was held for approval and nobody decided in time, so the tool did not run.',
    );
    expect(defaultDenialMessage(denial({ reason: 'unavailable', actionId: undefined }))).toBe(
      'Arden could not be reached to check this call to "stripe.refund", so the tool did not run.',
    );
  });

  it("passes on the server's answer when the check was too large for it (413)", () => {
    const refused = new ArdenApiError({
      statusCode: 413,
      path: '/policy/check',
      detail: 'This tool call is larger than the limit for a check. Raise ARDEN_CHECK_BODY_LIMIT.',
    });
    const error = new ArdenUnavailableError({ message: refused.message, cause: refused });
    const text = defaultDenialMessage(denial({ reason: 'unavailable', error }));
    expect(text).toMatch(
      /^Arden did not check this call to "stripe.refund", so the tool did not run\. /,
    );
    expect(text).toContain('Raise ARDEN_CHECK_BODY_LIMIT.');
    expect(text).not.toContain('could not be reached');
  });

  it('leaves out missing or empty notes, and never doubles the full stop', () => {
    expect(defaultDenialMessage(denial({ reason: 'blocked' }))).toBe(
      'Arden blocked this call to "stripe.refund" by policy. The tool did not run.',
    );
    expect(defaultDenialMessage(denial({ reason: 'denied', notes: '  Too much...  ' }))).toBe(
      'An approver denied this call to "stripe.refund": Too much. The tool did not run.',
    );
    for (const notes of ['', '   ', '.', ' .. ']) {
      expect(defaultDenialMessage(denial({ reason: 'denied', notes }))).toBe(
        'An approver denied this call to "stripe.refund". The tool did not run.',
      );
    }
  });
});

describe('denialText', () => {
  it('uses the adapter’s denialMessage when given, else the default', () => {
    const blocked = denial({ reason: 'blocked' });
    expect(denialText({}, blocked)).toBe(defaultDenialMessage(blocked));
    expect(denialText({ denialMessage: (d) => `NO (${d.reason}) ${d.toolName}` }, blocked)).toBe(
      'NO (blocked) stripe.refund',
    );
  });
});

describe('ardenToolName', () => {
  it('is the tool’s own name, with the prefix', () => {
    expect(ardenToolName({}, 'search')).toBe('search');
    expect(ardenToolName({ toolNamePrefix: 'kb.' }, 'search')).toBe('kb.search');
    expect(ardenToolName({ toolNamePrefix: '' }, 'search')).toBe('search');
  });

  it('takes a name from toolNames exactly as written: the prefix never applies to it', () => {
    const naming = { toolNamePrefix: 'support.', toolNames: { refund: 'payments.refund' } };
    expect(ardenToolName(naming, 'refund')).toBe('payments.refund');
    expect(ardenToolName(naming, 'search')).toBe('support.search');
  });

  it('does not mistake Object’s own members for entries of toolNames', () => {
    const naming = { toolNamePrefix: 'p.', toolNames: { refund: 'payments.refund' } };
    expect(ardenToolName(naming, 'constructor')).toBe('p.constructor');
    expect(ardenToolName(naming, 'toString')).toBe('p.toString');
    expect(ardenToolName(naming, '__proto__')).toBe('p.__proto__');
  });
});

describe('approvalModeOf', () => {
  it('takes the tool’s own mode, else the shared one, else wait', () => {
    expect(approvalModeOf({}, 'refund')).toBe('wait');
    expect(approvalModeOf({ approvalMode: 'async' }, 'refund')).toBe('async');
    expect(
      approvalModeOf({ approvalMode: 'async', approvalModes: { refund: 'webhook' } }, 'refund'),
    ).toBe('webhook');
    expect(approvalModeOf({ approvalModes: { refund: 'webhook' } }, 'constructor')).toBe('wait');
  });
});

describe('ardenResolver and resolveAdapterOptions', () => {
  it('uses the instance or function given', () => {
    const own = arden();
    expect(ardenResolver(own)()).toBe(own);
    expect(ardenResolver(() => own)()).toBe(own);
    expect(resolveAdapterOptions({ arden: own, toolNamePrefix: 'x.' })).toMatchObject({
      toolNamePrefix: 'x.',
      arden: own,
    });
    expect(resolveAdapterOptions({ arden: own }).resolveArden()).toBe(own);
  });

  it('finds the default instance at call time, so tools may be wrapped before configure()', () => {
    const resolve = resolveAdapterOptions({}).resolveArden;
    expect(() => resolve()).toThrow(ConfigurationError);
    const configured = configure(createTestArden().options());
    expect(resolve()).toBe(configured);
  });

  it('uses the fallback given when there is no arden option', () => {
    const own = arden();
    expect(ardenResolver(undefined, () => own)()).toBe(own);
    expect(resolveAdapterOptions({}, () => own).resolveArden()).toBe(own);
  });
});

describe('pending approvals', () => {
  it('recognises the PendingApproval of async mode and words it for the model', async () => {
    const server = createTestArden({ decisions: { send: 'requires_approval' } });
    const send = arden(server).guardTool('send', async () => 'sent', { approvalMode: 'async' });
    const pending = (await send()) as PendingApproval;
    expect(isPendingApproval(pending)).toBe(true);
    expect(pendingApprovalMessage(pending)).toBe(
      `This call to "send" is waiting for a human approval (Arden action ${pending.actionId}). It will run once approved; do not call it again.`,
    );
    // Decided, so that the instance has nothing left to wait for when it shuts down.
    server.deny(pending.actionId);
  });

  it('does not take a tool’s own result for one', () => {
    expect(isPendingApproval({ status: 'pending', actionId: 'a', toolName: 't' })).toBe(false);
    expect(isPendingApproval(Object.freeze({ status: 'pending' }))).toBe(false);
    expect(isPendingApproval(Object.freeze({ status: 'done', actionId: 'a' }))).toBe(false);
    expect(isPendingApproval('pending')).toBe(false);
    expect(isPendingApproval(null)).toBe(false);
  });
});

describe('runsUnchecked', () => {
  const unreachable = new ArdenUnavailableError({ toolName: 't', message: 'down' });

  it("runs a call unchecked only when Arden is unreachable and onUnavailable is 'allow'", () => {
    const allowing = arden(createTestArden(), { onUnavailable: 'allow' });
    expect(runsUnchecked(allowing, unreachable)).toBe(true);
    expect(runsUnchecked(arden(), unreachable)).toBe(false);
    expect(runsUnchecked(arden(createTestArden(), { onUnavailable: 'block' }), unreachable)).toBe(
      false,
    );
  });

  it('fails closed on every other error, even with onUnavailable allow', () => {
    const allowing = arden(createTestArden(), { onUnavailable: 'allow' });
    const refused = new ArdenApiError({ statusCode: 401, path: '/policy/check' });
    expect(runsUnchecked(allowing, refused)).toBe(false);
    expect(runsUnchecked(allowing, new Error('bug'))).toBe(false);
    expect(runsUnchecked(allowing, undefined)).toBe(false);
  });
});

describe('blockedError', () => {
  it('carries the policy’s message as notes, else its reason', () => {
    const error = blockedError('db.drop', {
      actionId: 'act_1',
      message: 'Never drop tables',
      reason: 'rule 1',
    });
    expect(PolicyDeniedError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({
      toolName: 'db.drop',
      actionId: 'act_1',
      reason: 'blocked',
      notes: 'Never drop tables',
    });
    expect(
      blockedError('db.drop', { actionId: 'act_2', message: undefined, reason: 'rule 1' }).notes,
    ).toBe('rule 1');
  });
});

describe('validateGuardArguments', () => {
  const problem = (run: () => void) => {
    try {
      run();
    } catch (error) {
      expect(ConfigurationError.isInstance(error)).toBe(true);
      return { message: (error as Error).message, option: (error as ConfigurationError).option };
    }
    return undefined;
  };

  it('accepts a named function in any approval mode', () => {
    for (const mode of ['wait', 'async', 'webhook']) {
      expect(problem(() => validateGuardArguments('register', 'refund', () => 1, mode))).toBe(
        undefined,
      );
    }
  });

  it('names the caller and the option at fault', () => {
    expect(problem(() => validateGuardArguments('register', '', () => 1, 'wait'))).toEqual({
      message: 'register(name, fn) needs a non-empty tool name.',
      option: 'name',
    });
    expect(problem(() => validateGuardArguments('guardTool', 'refund', 'no', 'wait'))).toEqual({
      message: 'guardTool("refund", fn) needs a function as fn.',
      option: 'fn',
    });
    expect(problem(() => validateGuardArguments('register', 'refund', () => 1, 'later'))).toEqual({
      message: "approvalMode must be 'wait', 'async' or 'webhook'; got later.",
      option: 'approvalMode',
    });
  });
});

describe('tokenCount', () => {
  it('takes the first count that is a number ≥ 0, rounded', () => {
    expect(tokenCount(undefined, 12)).toBe(12);
    expect(tokenCount(3.6, 12)).toBe(4);
    expect(tokenCount(0, 12)).toBe(0);
    expect(tokenCount(-1, '7', Number.NaN, Number.POSITIVE_INFINITY, 5)).toBe(5);
  });

  it('is undefined when no count is given', () => {
    expect(tokenCount()).toBeUndefined();
    expect(tokenCount(null, '12', -3)).toBeUndefined();
  });
});

describe('sharedState', () => {
  const key = Symbol.for('arden.test.shared-state');
  afterEach(() => {
    delete (globalThis as Record<symbol, unknown>)[key];
  });

  it('makes the state once and hands every caller the same one', () => {
    let made = 0;
    const create = () => ({ made: ++made });
    const first = sharedState(key, create);
    expect(sharedState(key, create)).toBe(first);
    expect(made).toBe(1);
    // A second copy of an adapter asks with its own function, under the same registered symbol.
    expect(sharedState(Symbol.for('arden.test.shared-state'), () => ({ made: 99 }))).toBe(first);
  });
});

describe('patchMethod', () => {
  it('replaces a method and puts the original back', () => {
    const target = { greet: (name: string) => `hello ${name}` };
    const original = target.greet;
    const undo = patchMethod(target, 'greet', (greet) => (name: string) => `${greet(name)}!`);
    expect(target.greet('ada')).toBe('hello ada!');
    undo();
    expect(target.greet).toBe(original);
  });

  it('leaves a later patch in place when undone', () => {
    const target = { greet: () => 'hello' };
    const undo = patchMethod(target, 'greet', () => () => 'patched');
    const later = () => 'later';
    target.greet = later;
    undo();
    expect(target.greet).toBe(later);
  });

  it('does nothing to a property that is not a function', () => {
    const target: Record<string, unknown> = { greet: 'hello' };
    const undo = patchMethod(target, 'greet', () => () => 'patched');
    expect(target.greet).toBe('hello');
    undo();
    expect(target.greet).toBe('hello');
  });
});

describe('decisionOf', () => {
  it('reads an approval or a denial with its notes, and nothing while pending', async () => {
    const server = createTestArden({ decisions: { send: 'requires_approval' } });
    const instance = arden(server);
    const approved = await instance.check('send', { args: [], kwargs: {} });
    const denied = await instance.check('send', { args: [], kwargs: {} });
    const pending = await instance.check('send', { args: [], kwargs: {} });
    server.approve(approved.actionId);
    server.deny(denied.actionId, 'Not today');
    expect(await decisionOf(instance, approved.actionId)).toEqual({
      status: 'approved',
      notes: undefined,
    });
    expect(await decisionOf(instance, denied.actionId)).toEqual({
      status: 'denied',
      notes: 'Not today',
    });
    expect(await decisionOf(instance, pending.actionId)).toBeUndefined();
    server.deny(pending.actionId);
  });

  it('is undefined when Arden cannot be reached', async () => {
    const unreachable = new Arden({
      ...createTestArden().options(),
      fetch: async () => {
        throw new TypeError('fetch failed');
      },
      retryAttempts: 0,
    });
    instances.push(unreachable);
    expect(await decisionOf(unreachable, 'act_1')).toBeUndefined();
  });

  it('reads a status it does not know as undecided, never as a decision', async () => {
    const odd = new Arden({
      ...createTestArden().options(),
      fetch: async () =>
        new Response(JSON.stringify({ action_id: 'act_1', status: 'escalated', message: 'x' }), {
          status: 200,
          headers: { 'content-type': 'application/json' },
        }),
    });
    instances.push(odd);
    expect(await decisionOf(odd, 'act_1')).toBeUndefined();
  });
});
