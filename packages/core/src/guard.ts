/**
 * Guarding: the wrapper `guardTool` returns, and one guarded call from the check to the run —
 * allowed calls run, blocked ones throw, held ones wait (`wait`), settle in the background
 * (`async`) or wait for a webhook (`webhook`).
 */
import type {
  AnyFunction,
  ApprovalEvent,
  CallContext,
  CheckResult,
  DecidedCall,
  EditedCall,
  GuardOptions,
  PendingApproval,
} from './call-types';
import { buildCallContext } from './checks';
import { ArdenUnavailableError, ConfigurationError, PolicyDeniedError } from './errors';
import { blockedError, runsUnchecked, validateGuardArguments } from './guard-rules';
import { isPlainObject, stringifyWire } from './json-safe';
import type { ResolvedOptions } from './options';
import { assertReceiptCoversCall, decodeReceipt } from './receipts';
import { webhookTools } from './shared-registry';
import {
  endSpan,
  endWithError,
  type OtelSpan,
  recordApproval,
  recordDecision,
  startToolSpan,
  tracingOn,
} from './telemetry';

/** @internal A call held in webhook mode until its decision arrives. */
export interface HeldCall {
  toolName: string;
  run: () => Promise<unknown>;
  options: GuardOptions<any>;
}

/** @internal What a guarded call needs of its Arden instance (the public methods of `Arden`). */
export interface GuardHost {
  readonly options: ResolvedOptions;
  check(
    toolName: string,
    context: CallContext,
    metadata?: Record<string, unknown>,
  ): Promise<CheckResult>;
  waitForDecision(actionId: string, toolName: string): Promise<DecidedCall>;
  runAndReport(
    actionId: string,
    fn: AnyFunction,
    thisArgument: unknown,
    parameters: unknown[],
  ): Promise<unknown>;
}

/** @internal Where a held call goes when the caller does not wait for it. */
export interface HeldCalls {
  /** Keeps a background settlement (async mode) so that `flush()` waits for it. */
  track(promise: Promise<unknown>): void;
  /** Keeps a call until its webhook decision arrives (webhook mode). */
  hold(actionId: string, call: HeldCall): void;
}

/**
 * @internal Runs one guarded call on `host`; see `Arden.runGuarded`. When the app uses
 * OpenTelemetry, the call is an `execute_tool` span (telemetry.ts) around the check, the wait and
 * the run.
 */
export async function runGuardedCall(
  host: GuardHost,
  held: HeldCalls,
  toolName: string,
  fn: AnyFunction,
  thisArgument: unknown,
  parameters: unknown[],
  options: GuardOptions<any>,
): Promise<unknown> {
  if (!tracingOn()) {
    return guardedCall(host, held, toolName, fn, thisArgument, parameters, options, undefined);
  }
  const toolSpan = await startToolSpan(toolName, options.metadata);
  if (!toolSpan) {
    return guardedCall(host, held, toolName, fn, thisArgument, parameters, options, undefined);
  }
  try {
    const value = await toolSpan.within(() =>
      guardedCall(host, held, toolName, fn, thisArgument, parameters, options, toolSpan.span),
    );
    endSpan(toolSpan.span);
    return value;
  } catch (error) {
    endWithError(toolSpan.span, error);
    throw error;
  }
}

async function guardedCall(
  host: GuardHost,
  held: HeldCalls,
  toolName: string,
  fn: AnyFunction,
  thisArgument: unknown,
  parameters: unknown[],
  options: GuardOptions<any>,
  span: OtelSpan | undefined,
): Promise<unknown> {
  const mode = options.approvalMode ?? 'wait';
  const context = buildCallContext(parameters, options.argNames);
  let result: CheckResult;
  try {
    result = await host.check(toolName, context, options.metadata);
  } catch (error) {
    if (runsUnchecked(host, error)) {
      host.options.logger.warn(
        `Arden is unreachable; running "${toolName}" unchecked because onUnavailable is 'allow'.`,
      );
      return fn.apply(thisArgument, parameters);
    }
    if (ArdenUnavailableError.isInstance(error)) {
      throw new ArdenUnavailableError({
        toolName,
        message: `Arden could not decide on "${toolName}", so it did not run (onUnavailable: 'block'). ${error.message}`,
        cause: error,
      });
    }
    throw error;
  }
  if (span) recordDecision(span, result);
  const checked = { args: stringifyWire(context.args), kwargs: stringifyWire(context.kwargs) };
  // The call runs only as checked (and as the receipt binds it); an approver's edit then runs in
  // its place.
  const run = async (decision?: DecidedCall) => {
    await assertSameCall(
      toolName,
      result.actionId,
      parameters,
      options,
      checked,
      decision?.receipt,
      decision?.edited,
    );
    const next = decision?.edited
      ? editedParametersOrDeny(toolName, result.actionId, parameters, options.argNames, decision)
      : parameters;
    if (decision?.edited) options.onEdited?.(decision.edited);
    return host.runAndReport(result.actionId, fn, thisArgument, next);
  };
  switch (result.decision) {
    case 'allow':
      // The check's own receipt binds the bytes just sent: comparing them again is enough.
      return run();
    case 'block':
      throw blockedError(toolName, result);
    case 'requires_approval':
      break;
  }
  if (mode === 'wait') {
    const waitStarted = span ? performance.now() : 0;
    let decision: DecidedCall;
    try {
      decision = await host.waitForDecision(result.actionId, toolName);
    } catch (error) {
      if (span) recordApproval(span, 'timeout', performance.now() - waitStarted);
      throw error;
    }
    if (span) {
      recordApproval(span, decision.status, performance.now() - waitStarted, decision.message);
    }
    if (decision.status === 'approved') return run(decision);
    throw new PolicyDeniedError({
      toolName,
      actionId: result.actionId,
      reason: 'denied',
      notes: decision.message,
    });
  }
  const pending: PendingApproval = Object.freeze({
    status: 'pending' as const,
    actionId: result.actionId,
    toolName,
  });
  if (mode === 'async') {
    held.track(settleInBackground(host, pending, run, options));
  } else {
    held.hold(result.actionId, { toolName, run: () => run(), options });
  }
  return pending;
}

async function settleInBackground(
  host: GuardHost,
  pending: PendingApproval,
  run: (decision: DecidedCall) => Promise<unknown>,
  options: GuardOptions<any>,
): Promise<void> {
  let event: ApprovalEvent = {
    actionId: pending.actionId,
    toolName: pending.toolName,
    status: 'denied',
    message: undefined,
  };
  try {
    const decision = await host.waitForDecision(pending.actionId, pending.toolName);
    event = { ...event, status: decision.status, message: decision.message };
    if (decision.status === 'denied') {
      throw new PolicyDeniedError({
        toolName: pending.toolName,
        actionId: pending.actionId,
        reason: 'denied',
        notes: decision.message,
      });
    }
    const value = await run(decision);
    await options.onApproval?.(value, event);
  } catch (error) {
    try {
      await options.onDenial?.(error, event);
    } catch (callbackError) {
      host.options.logger.error('onDenial threw', { error: String(callbackError) });
    }
    if (!options.onDenial) {
      host.options.logger.warn(`Held call to "${pending.toolName}" did not run: ${String(error)}`);
    }
  }
}

/**
 * The exact call: a tool runs only with the arguments that were checked. Its arguments are
 * serialized again just before it runs and compared with what was sent to the check (an object
 * mutated while the call waited for approval is refused), and with the server's receipt when
 * there is one: the receipt must be for this action and bind these argument bytes, so a decision
 * for another call (a replayed approval) never runs this one.
 */
async function assertSameCall(
  toolName: string,
  actionId: string,
  parameters: unknown[],
  options: GuardOptions<any>,
  checked: { args: string; kwargs: string },
  receipt: string | undefined,
  edited?: EditedCall,
): Promise<void> {
  const call = exactCall(toolName, actionId, parameters, options.argNames);
  let failure: unknown;
  if (call.argsJson !== checked.args || call.kwargsJson !== checked.kwargs) {
    failure = new Error('the arguments changed after they were checked');
  } else if (receipt !== undefined) {
    try {
      await assertDecisionCoversCall(receipt, call, edited);
    } catch (error) {
      failure = error;
    }
  }
  if (failure === undefined) return;
  throw new PolicyDeniedError({
    toolName,
    actionId,
    reason: 'denied',
    message: `Tool "${toolName}" did not run: ${failure instanceof Error ? failure.message : String(failure)}. Arden runs a tool only with exactly the arguments that were checked or approved.`,
    cause: failure,
  });
}

/** The exact call a receipt binds. */
export interface ExactCall {
  toolName: string;
  actionId: string;
  /** The positional and keyword arguments' JSON text, as a check sends them. */
  argsJson: string;
  kwargsJson: string;
}

/** @internal A call's exact form (its argument bytes as a check sends them), to compare with a receipt. */
export function exactCall(
  toolName: string,
  actionId: string,
  parameters: readonly unknown[],
  argNames?: readonly string[],
): ExactCall {
  const context = buildCallContext(parameters, argNames);
  return {
    toolName,
    actionId,
    argsJson: stringifyWire(context.args),
    kwargsJson: stringifyWire(context.kwargs),
  };
}

/**
 * @internal That a decision's receipt was issued for exactly this call: the action, the tool
 * name and the argument bytes (`call`, serialized as the check sent them). For an approval with
 * edit, the receipt binds the edited call (`edited`, the one to run) and names the hashes of the
 * call as the agent made it (`call`). Throws (`ReceiptVerificationError`, `call_mismatch`) when
 * the receipt is for another call. Adapters that resume an approval from outside (a framework's
 * message history) use it so that an approval never runs another call.
 */
export async function assertDecisionCoversCall(
  receipt: string,
  call: ExactCall,
  edited: EditedCall | undefined,
): Promise<void> {
  const { claims } = decodeReceipt(receipt);
  if (claims.edited || edited) {
    // Approved with edit: the receipt binds the edited call (the one to run) and names the
    // hashes of the call as checked.
    if (!claims.edited || !edited) {
      throw new Error(
        'the receipt and the decision disagree on whether an approver edited the arguments',
      );
    }
    await assertReceiptCoversCall(claims, { ...call, kwargsJson: edited.kwargsJson });
    await assertReceiptCoversCall(
      {
        ...claims,
        args_sha256: claims.edited.original_args_sha256,
        kwargs_sha256: claims.edited.original_kwargs_sha256,
      },
      call,
    );
  } else {
    await assertReceiptCoversCall(claims, call);
  }
}

/**
 * The parameters of a call with an approver's edit applied: by `argNames`, or the one object
 * parameter replaced. Undefined when the edit cannot be mapped onto the parameters (positional
 * arguments without names, or a name the function does not take).
 */
export function editedParameters(
  parameters: readonly unknown[],
  argNames: readonly string[] | undefined,
  edited: EditedCall,
): unknown[] | undefined {
  if (argNames && argNames.length > 0) {
    if (Object.keys(edited.kwargs).some((key) => !argNames.includes(key))) return undefined;
    const next = [...parameters];
    argNames.forEach((name, index) => {
      if (Object.hasOwn(edited.kwargs, name)) next[index] = edited.kwargs[name];
      else if (index < next.length) next[index] = undefined;
    });
    return next;
  }
  if (parameters.length === 1 && isPlainObject(parameters[0])) return [edited.kwargs];
  if (parameters.length === 0) return [edited.kwargs];
  return undefined;
}

function editedParametersOrDeny(
  toolName: string,
  actionId: string,
  parameters: readonly unknown[],
  argNames: readonly string[] | undefined,
  decision: DecidedCall,
): unknown[] {
  const edited = decision.edited as EditedCall;
  const next = editedParameters(parameters, argNames, edited);
  if (next === undefined) {
    throw new PolicyDeniedError({
      toolName,
      actionId,
      reason: 'denied',
      notes: `The approver required changes (${edited.message}), but they cannot be mapped onto this tool's positional arguments (give guardTool argNames), so it did not run.`,
    });
  }
  return next;
}

const guardedMarker = Symbol.for('arden.guarded');

/** The Arden tool name of a function returned by `guardTool`, or undefined for any other value. */
export function guardedToolName(value: unknown): string | undefined {
  if (typeof value !== 'function') return undefined;
  const name = (value as unknown as Record<symbol, unknown>)[guardedMarker];
  return typeof name === 'string' ? name : undefined;
}

/** @internal What `guardWith` calls on the instance it finds at call time. */
export interface GuardRunner {
  runGuarded(
    toolName: string,
    fn: AnyFunction,
    thisArgument: unknown,
    parameters: unknown[],
    options: GuardOptions<any>,
  ): Promise<unknown>;
}

/** Builds the guarded wrapper; `resolve` finds the instance at call time. */
export function guardWith(
  resolve: () => GuardRunner,
  toolName: string,
  fn: AnyFunction,
  options: GuardOptions<any>,
): (...args: any[]) => Promise<unknown> {
  const mode = options.approvalMode ?? 'wait';
  validateGuardArguments('guardTool', toolName, fn, mode);
  if (options.argNames !== undefined && !Array.isArray(options.argNames)) {
    throw new ConfigurationError('argNames must be an array of strings.', { option: 'argNames' });
  }
  // Webhook-mode tools are known by name from the moment they are guarded, so a decision that
  // arrives after a restart (when the process that made the call is gone) still reaches code.
  if (mode === 'webhook') webhookTools().set(toolName, { fn, argNames: options.argNames, options });
  const guarded = async function (this: unknown, ...parameters: unknown[]) {
    return resolve().runGuarded(toolName, fn, this, parameters, options);
  };
  Object.defineProperty(guarded, 'name', { value: fn.name || toolName });
  // Lets adapters recognise an already guarded function and not check its calls twice.
  Object.defineProperty(guarded, guardedMarker, { value: toolName });
  return guarded;
}
