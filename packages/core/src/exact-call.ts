/**
 * The exact call: a decision lets a tool run only with the arguments it was made for. One source
 * for `guardTool` (guard.ts) and the MCP checks (mcp-check.ts: both gateways and
 * `guardMcpClient`), so that every route reads a receipt — and an approver's edit — alike.
 */
import type { EditedCall } from './call-types';
import { buildCallContext } from './checks';
import { PolicyDeniedError } from './errors';
import { stringifyWire } from './json-safe';
import { assertReceiptCoversCall, decodeReceipt, type ReceiptCall } from './receipts';

/** A call as it was sent to the check: its tool, action and argument bytes. */
export interface CheckedCall {
  toolName: string;
  actionId: string;
  /** The positional arguments' JSON text, as sent to the check. */
  argsJson: string;
  /** The keyword arguments' JSON text, as sent to the check. */
  kwargsJson: string;
}

/**
 * A call's exact form: its argument bytes as a check sends them (`parameters` as the tool takes
 * them, named by `argNames`), to compare with what was checked and with a receipt. Adapters that
 * resume an approval from outside Arden (a framework's saved state or message history) use it.
 */
export function exactCall(
  toolName: string,
  actionId: string,
  parameters: readonly unknown[],
  argNames?: readonly string[],
): CheckedCall {
  const context = buildCallContext(parameters, argNames);
  return {
    toolName,
    actionId,
    argsJson: stringifyWire(context.args),
    kwargsJson: stringifyWire(context.kwargs),
  };
}

/**
 * Throws unless the decision's receipt (when the server sent one) is for this action and binds
 * the call that is about to run: the checked call, or — approved with edit — the edited call,
 * with the receipt naming the checked call's hashes in `edited`. A receipt for another call (a
 * replayed approval), or one that disagrees with the decision on whether an approver edited the
 * arguments, throws. Without a receipt (a server that does not sign), nothing is compared.
 */
export async function assertDecisionCoversCall(
  call: CheckedCall,
  receipt: string | undefined,
  edited: EditedCall | undefined,
): Promise<void> {
  if (receipt === undefined) return;
  const { claims } = decodeReceipt(receipt);
  const checked: ReceiptCall = call;
  if (!claims.edited && !edited) {
    await assertReceiptCoversCall(claims, checked);
    return;
  }
  // Approved with edit: the receipt binds the edited call (the one to run) and names the hashes
  // of the call as checked.
  if (!claims.edited || !edited) {
    throw new Error(
      'the receipt and the decision disagree on whether an approver edited the arguments',
    );
  }
  await assertReceiptCoversCall(claims, { ...checked, kwargsJson: edited.kwargsJson });
  await assertReceiptCoversCall(
    {
      ...claims,
      args_sha256: claims.edited.original_args_sha256,
      kwargs_sha256: claims.edited.original_kwargs_sha256,
    },
    checked,
  );
}

/** The denial of a call that is not the one checked or approved (`failure` says how). */
export function notTheExactCall(
  toolName: string,
  actionId: string,
  failure: unknown,
): PolicyDeniedError {
  const why = failure instanceof Error ? failure.message : String(failure);
  return new PolicyDeniedError({
    toolName,
    actionId,
    reason: 'denied',
    message: `Tool "${toolName}" did not run: ${why}. Arden runs a tool only with exactly the arguments that were checked or approved.`,
    // What an MCP route tells the model (core's denial text is built from the notes).
    notes: `${why}; Arden runs a tool only with exactly the arguments that were checked or approved`,
    cause: failure,
  });
}

/**
 * The denial for a route that cannot run an approver's edit (it can only run the call as the
 * model made it): running the original would run a call nobody approved. Names the approved
 * arguments, so that the model can make that call again. `why` says why this route cannot.
 */
export function editNotRunnable(
  toolName: string,
  actionId: string,
  edited: EditedCall,
  why: string,
): PolicyDeniedError {
  const what = edited.message.trim().replace(/\.+$/, '');
  return new PolicyDeniedError({
    toolName,
    actionId,
    reason: 'denied',
    notes: `the approver required changes (${what}), but ${why}; the call as it was made was not approved, so nothing ran. Make the call again with the approved arguments: ${edited.kwargsJson}`,
  });
}
