/**
 * Codex's `PreToolUse` command hook: Codex runs it before its shell tool (`Bash`), `apply_patch`
 * and MCP tools (`mcp__<server>__<tool>`) with the event as JSON on stdin. It checks the call with
 * Arden's agent API (through `@arden/core`) and answers as Codex reads hooks: nothing and exit 0
 * lets the call run; exit 2 with the reason on stderr blocks it. Codex treats every other outcome
 * of a hook (another exit code, invalid output, `allow` or `ask`, a crash, a timeout) as a failed
 * hook and runs the tool, so every problem here ends in exit 2 (fail closed). A call an approver
 * edited before approving is refused too: Codex runs a tool with the input a hook answers
 * (`updatedInput`) only in recent releases — an older one reads that answer as a failed hook and
 * runs the call as the model made it, which nobody approved — and the hook cannot tell which
 * Codex runs it.
 */
import {
  ApprovalTimeoutError,
  type Arden,
  ArdenUnavailableError,
  assertDecisionCoversCall,
  blockedError,
  buildCallContext,
  defaultDenialMessage,
  denialOf,
  editNotRunnable,
  mcpToolName,
  notTheExactCall,
  PolicyDeniedError,
  stringifyWire,
} from '@arden/core';
import { hookArden } from '../hook-arden';

/** Options of the Codex hook. */
export interface CodexHookOptions {
  /** Arden unreachable: `'block'` (default, exit 2) or `'allow'` (the call runs unchecked). */
  onUnavailable: 'block' | 'allow';
  /**
   * How long a held call waits for an approver, in seconds. Keep it below the hook's `timeout`
   * in Codex's configuration: a hook that Codex times out counts as failed, and the tool runs.
   */
  maxWaitSeconds: number;
}

/** The default options: fail closed, wait up to 300 s. */
export const defaultCodexHookOptions: CodexHookOptions = {
  onUnavailable: 'block',
  maxWaitSeconds: 300,
};

/** What the hook prints and exits with. */
export interface CodexHookAnswer {
  stderr: string;
  exitCode: 0 | 2;
}

const MCP_NAME = /^mcp__(.+?)__(.+)$/;

/**
 * The name Arden checks a Codex tool under: `codex.Bash`, `codex.apply_patch`, and
 * `mcp.<server>.<tool>` for an MCP tool (Codex names it `mcp__<server>__<tool>`). Throws
 * `ConfigurationError` for an MCP server name Arden cannot use (a dot, a space…): checking such
 * a tool under another name would miss the `mcp.*` policies meant for it, so the hook refuses
 * the call instead, as the Claude Code hook does.
 */
export function codexToolName(toolName: string): string {
  const mcp = MCP_NAME.exec(toolName);
  if (mcp) return mcpToolName(mcp[1] as string, mcp[2] as string);
  return `codex.${toolName}`;
}

// Codex trims each header line before reading it, so padding before `***` is allowed here too.
const PATCH_PATH = /^[^\S\n]*\*\*\* (?:Add File|Update File|Delete File|Move to): (.+)$/gm;

/** The files an `apply_patch` body touches (its `*** Add/Update/Delete File:` lines), in order. */
export function patchPaths(patch: string): string[] {
  const paths: string[] = [];
  for (const match of patch.matchAll(PATCH_PATH)) {
    const path = (match[1] as string).trim();
    if (!paths.includes(path)) paths.push(path);
    if (paths.length >= 1000) break;
  }
  return paths;
}

/** Why the hook refuses an approval with edit (see the module's comment). */
const codexNoEdits =
  "Codex cannot run an edited call: only recent Codex releases take a hook's changed input, an older one runs the call as the model made it instead, and the hook cannot tell which one runs it";

const block = (reason: string): CodexHookAnswer => ({
  stderr: `${reason.replace(/\s+$/, '')}\n`,
  exitCode: 2,
});

/**
 * Handles one `PreToolUse` event (`stdin` is the JSON Codex sent). Never throws. Other events
 * are let through untouched (exit 0): this hook only decides tool calls.
 */
export async function handleCodexHook(
  stdin: string,
  options: CodexHookOptions,
  env: Record<string, string | undefined>,
): Promise<CodexHookAnswer> {
  let input: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(stdin);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error();
    input = parsed as Record<string, unknown>;
  } catch {
    return block('arden hook codex: stdin is not the JSON object Codex sends to hooks.');
  }
  if (input.hook_event_name !== 'PreToolUse') return { stderr: '', exitCode: 0 };
  const toolName = typeof input.tool_name === 'string' ? input.tool_name : '';
  let name: string;
  try {
    name = codexToolName(toolName);
  } catch (error) {
    return block(
      `Arden cannot check this MCP tool, so it did not run: ${(error as Error).message} Rename the server in Codex's config.toml ([mcp_servers.<name>]).`,
    );
  }
  let arden: Arden;
  try {
    arden = hookArden(options, env);
  } catch (error) {
    return block(`Arden is not configured, so this call did not run: ${(error as Error).message}`);
  }
  try {
    return await checkCall(arden, input, name, options);
  } finally {
    await arden.shutdown();
  }
}

async function checkCall(
  arden: Arden,
  input: Record<string, unknown>,
  name: string,
  options: CodexHookOptions,
): Promise<CodexHookAnswer> {
  try {
    const toolInput =
      typeof input.tool_input === 'object' &&
      input.tool_input !== null &&
      !Array.isArray(input.tool_input)
        ? { ...(input.tool_input as Record<string, unknown>) }
        : {};
    if (input.tool_name === 'apply_patch' && typeof toolInput.command === 'string') {
      toolInput.paths = patchPaths(toolInput.command);
    }
    const metadata: Record<string, unknown> = { source: 'codex' };
    for (const key of ['session_id', 'turn_id', 'tool_use_id', 'cwd', 'model', 'permission_mode']) {
      if (typeof input[key] === 'string') metadata[key] = input[key];
    }
    const mcp = MCP_NAME.exec(typeof input.tool_name === 'string' ? input.tool_name : '');
    if (mcp && name.startsWith('mcp.')) metadata.mcp = { server: mcp[1], tool: mcp[2] };
    const context = buildCallContext([toolInput]);
    const result = await arden.check(name, context, metadata);
    if (result.decision === 'block') throw blockedError(name, result);
    if (result.decision === 'requires_approval') {
      const decision = await arden.waitForDecision(result.actionId, name);
      if (decision.status !== 'approved') {
        throw new PolicyDeniedError({
          toolName: name,
          actionId: result.actionId,
          reason: 'denied',
          notes: decision.message,
        });
      }
      // The receipt must bind the call as checked, as guardTool's.
      const checked = {
        toolName: name,
        actionId: result.actionId,
        argsJson: stringifyWire(context.args),
        kwargsJson: stringifyWire(context.kwargs),
      };
      try {
        await assertDecisionCoversCall(checked, decision.receipt, decision.edited);
      } catch (error) {
        throw notTheExactCall(name, result.actionId, error);
      }
      if (decision.edited)
        throw editNotRunnable(name, result.actionId, decision.edited, codexNoEdits);
    }
    return { stderr: '', exitCode: 0 };
  } catch (error) {
    if (ArdenUnavailableError.isInstance(error) && options.onUnavailable === 'allow') {
      return { stderr: '', exitCode: 0 };
    }
    const denial = denialOf(error, name);
    if (denial) {
      return block(
        denial.reason === 'timeout' && ApprovalTimeoutError.isInstance(error)
          ? `This call to "${name}" was held for approval in Arden (action ${denial.actionId}) and nobody decided within ${options.maxWaitSeconds} s, so it did not run.`
          : defaultDenialMessage(denial),
      );
    }
    return block(
      `Arden could not check this call to "${name}", so it did not run: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
