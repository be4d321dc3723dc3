// The hosted MCP tool (`hostedMcpTool`): OpenAI's servers call the MCP server, so the only point
// Arden can stand is the SDK's approval hook (`onApproval`), called for each call that
// `requireApproval` sends to the app.
import {
  assertDecisionCoversCall,
  blockedError,
  buildCallContext,
  exactCall,
  isValidMcpServerName,
  mcpToolName,
  notTheExactCall,
  PolicyDeniedError,
  resolveAdapterOptions,
  runsUnchecked,
} from '@arden/core';
import type { RunContext, RunToolApprovalItem } from '@openai/agents';
import { denialFor, guardedMarker, markGuarded, parseToolInput } from './guard';
import type { ProtectOptions, ResolvedProtectOptions } from './state';

/** The answer the SDK's `onApproval` hook gives for one hosted MCP call. */
export interface HostedMcpApproval {
  approve: boolean;
  reason?: string;
}

/** What Arden reads of a hosted MCP approval request: its server label, tool and arguments. */
export interface HostedMcpCall {
  serverLabel: string;
  tool: string;
  /** The arguments as the model wrote them (a JSON string), or `undefined` when absent. */
  arguments: string | undefined;
  /** The approval request's id (OpenAI's), recorded in the check's metadata. */
  requestId: string | undefined;
}

/**
 * @internal The server label, tool name and arguments of a hosted MCP approval request item (the
 * SDK's `RunToolApprovalItem` whose raw item carries OpenAI's `mcp_approval_request`).
 */
export function hostedMcpCallOf(item: unknown): HostedMcpCall | undefined {
  const raw = (item as { rawItem?: unknown } | undefined)?.rawItem ?? item;
  const providerData = (raw as { providerData?: Record<string, unknown> } | undefined)
    ?.providerData;
  if (!providerData) return undefined;
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  const serverLabel = text(providerData.server_label) ?? text(providerData.serverLabel);
  const tool = text(providerData.name) ?? text((raw as { name?: unknown }).name);
  if (!serverLabel || !tool) return undefined;
  const args = providerData.arguments;
  return {
    serverLabel,
    tool,
    arguments:
      typeof args === 'string' ? args : args === undefined ? undefined : JSON.stringify(args),
    requestId: text(providerData.id) ?? text((raw as { id?: unknown }).id),
  };
}

/**
 * The `onApproval` hook of `hostedMcpTool` that asks Arden: each hosted MCP call the SDK sends for
 * approval is checked as `mcp.<serverLabel>.<tool>` with its arguments — allowed calls are
 * approved, blocked ones rejected with the policy's reason (the model is told), held ones wait for
 * an approver in Arden. Give it with `requireApproval: 'always'`, or calls that `requireApproval`
 * exempts never reach Arden:
 *
 * ```ts
 * hostedMcpTool({ serverLabel: 'github', serverUrl, requireApproval: 'always', onApproval: hostedMcpApproval() })
 * ```
 *
 * The call runs on OpenAI's side, so Arden cannot hold its result back, apply an approver's edit
 * (an approval with changes is a rejection, saying so) or record its outcome.
 */
export function hostedMcpApproval(
  options: ProtectOptions = {},
): (context: RunContext<any>, item: RunToolApprovalItem) => Promise<HostedMcpApproval> {
  const resolved = resolveAdapterOptions(options);
  return markGuarded(async (_context: RunContext<any>, item: RunToolApprovalItem) =>
    decideHostedMcpCall(resolved, hostedMcpCallOf(item)),
  );
}

const warned = new Set<string>();

/**
 * @internal Under `configure()`: warns once per server label of a hosted MCP tool whose calls do
 * not all reach Arden (no `hostedMcpApproval()` hook, or approval not required for every call).
 */
export function warnUncheckedHostedMcp(tool: unknown, warn: (message: string) => void): void {
  const data = (tool as { type?: unknown; providerData?: Record<string, unknown> } | undefined)
    ?.providerData;
  if ((tool as { type?: unknown }).type !== 'hosted_tool' || data?.type !== 'mcp') return;
  const hook = data.on_approval as Record<symbol, unknown> | undefined;
  if (hook?.[guardedMarker] === true && data.require_approval === 'always') return;
  const label = String(data.server_label);
  if (warned.has(label)) return;
  warned.add(label);
  warn(
    `The hosted MCP tool "${label}" runs on OpenAI's side, where Arden does not see its calls unless they are sent for approval: give it requireApproval: 'always' and onApproval: hostedMcpApproval() (from @arden/openai-agents).`,
  );
}

/** @internal Arden's answer for one hosted MCP call (`undefined`: not one Arden can read). */
export async function decideHostedMcpCall(
  options: ResolvedProtectOptions,
  call: HostedMcpCall | undefined,
): Promise<HostedMcpApproval> {
  if (!call) {
    return {
      approve: false,
      reason:
        'Arden could not read this MCP approval request (no server label or tool name), so the call was not approved.',
    };
  }
  if (!isValidMcpServerName(call.serverLabel)) {
    return {
      approve: false,
      reason: `The MCP server label ${JSON.stringify(call.serverLabel.slice(0, 80))} is not usable in Arden tool names (1 to 64 letters, digits, "_" or "-"), so the call was not approved. Rename the hosted MCP tool's serverLabel.`,
    };
  }
  const ardenName = mcpToolName(call.serverLabel, call.tool);
  const arden = options.resolveArden();
  const input = call.arguments === undefined ? {} : parseToolInput(call.arguments);
  try {
    let result: Awaited<ReturnType<typeof arden.check>>;
    try {
      result = await arden.check(ardenName, buildCallContext([input]), {
        ...options.metadata,
        framework: 'openai-agents',
        tool: call.tool,
        mcp: { server: call.serverLabel, tool: call.tool, hosted: true },
        ...(call.requestId === undefined ? {} : { mcp_approval_request_id: call.requestId }),
      });
    } catch (error) {
      if (runsUnchecked(arden, error)) {
        arden.options.logger.warn(
          `Arden is unreachable; approving "${ardenName}" unchecked because onUnavailable is 'allow'.`,
        );
        return { approve: true };
      }
      throw error;
    }
    if (result.decision === 'allow') return { approve: true };
    if (result.decision === 'block') throw blockedError(ardenName, result);
    const decision = await arden.waitForDecision(result.actionId, ardenName);
    if (decision.status !== 'approved') {
      throw new PolicyDeniedError({
        toolName: ardenName,
        actionId: result.actionId,
        reason: 'denied',
        notes: decision.message,
      });
    }
    // The approval must be for exactly this call (its signed receipt binds the tool and the
    // argument bytes checked above): an answer for another call approves nothing here.
    try {
      await assertDecisionCoversCall(
        exactCall(ardenName, result.actionId, [input]),
        decision.receipt,
        decision.edited,
      );
    } catch (failure) {
      throw notTheExactCall(ardenName, result.actionId, failure);
    }
    if (decision.edited) {
      return {
        approve: false,
        reason: `An approver approved "${ardenName}" with changed arguments, which cannot be applied to a hosted MCP call (OpenAI runs it as the model wrote it), so it was not run. Call it again with the approved arguments: ${decision.edited.kwargsJson}.`,
      };
    }
    return { approve: true };
  } catch (error) {
    // The model is told why (throwOnDenial does not apply: the SDK takes a reason here).
    // denialFor rethrows what is not a denial (a misconfiguration): the SDK fails the run.
    return {
      approve: false,
      reason: denialFor({ ...options, throwOnDenial: false }, error, ardenName),
    };
  }
}
