/**
 * `arden hook claude-code`: Claude Code's command hook. Claude Code runs it for PreToolUse,
 * PostToolUse, PostToolUseFailure, Stop and SessionEnd with the event as JSON on stdin; it
 * checks the call with Arden's agent API (through `@arden/core`, never the store) and answers
 * on stdout. Loaded lazily by the CLI so that the hook starts fast.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ApprovalTimeoutError,
  type Arden,
  ArdenApiError,
  ArdenUnavailableError,
  assertDecisionCoversCall,
  blockedError,
  buildCallContext,
  decisionOf,
  defaultDenialMessage,
  denialOf,
  type EditedCall,
  notTheExactCall,
  PolicyDeniedError,
  parseMcpToolName,
  stringifyWire,
  toJsonSafe,
} from '@arden/core';
import { hookArden } from '../hook-arden';
import { claudeCodeToolName } from './names';
import { transcriptUsage } from './transcript';

/** What the hook does with a call held for approval. */
export type HeldBehaviour = 'wait' | 'ask';

/** What the hook answers for a call Arden allows. */
export type AllowBehaviour = 'allow' | 'defer';

/** Options of the command hook (command-line flags, else environment variables). */
export interface HookOptions {
  /**
   * A held call: `'wait'` (default) waits for an approver within `maxWaitSeconds`; `'ask'`
   * answers `ask`, so that the developer at the keyboard decides in Claude Code.
   */
  onHeld: HeldBehaviour;
  /**
   * A call Arden allows: `'defer'` (default) answers no decision, so Claude Code's own
   * permission rules and prompts apply as usual; `'allow'` answers `allow` (no prompt).
   */
  onAllow: AllowBehaviour;
  /** Arden unreachable: `'block'` (default, the call is denied) or `'allow'` (unchecked). */
  onUnavailable: 'block' | 'allow';
  /** How long a held call waits, in seconds (keep it below the hook's `timeout`). */
  maxWaitSeconds: number;
  /**
   * Whether Stop and SessionEnd read the transcript at `transcript_path` for usage: true for
   * the command hook (on the developer's machine); false for the server's HTTP endpoint, which
   * must not open a path a client names.
   */
  readTranscript?: boolean;
  /**
   * Only record usage at Stop and SessionEnd, and answer nothing to every other event: the
   * command hook installed next to the `http` hooks, which decide the calls on the server.
   */
  usageOnly?: boolean;
}

/** What the hook prints and exits with. */
export interface HookAnswer {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** The default hook options. */
export const defaultHookOptions: HookOptions = {
  onHeld: 'wait',
  onAllow: 'defer',
  onUnavailable: 'block',
  maxWaitSeconds: 300,
};

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function safeName(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 200);
}

function preToolUse(
  decision: 'allow' | 'deny' | 'ask',
  reason: string,
  extra: Record<string, unknown> = {},
): HookAnswer {
  return {
    stdout: `${JSON.stringify({
      hookSpecificOutput: {
        hookEventName: 'PreToolUse',
        permissionDecision: decision,
        permissionDecisionReason: reason,
        ...extra,
      },
    })}\n`,
    stderr: '',
    exitCode: 0,
  };
}

const nothing: HookAnswer = { stdout: '', stderr: '', exitCode: 0 };

/** Where the hook keeps what one event hands to a later one (action ids, counted usage). */
function stateDirectory(env: Record<string, string | undefined>, sessionId: string): string {
  const root = env.ARDEN_HOOK_STATE_DIR || join(tmpdir(), 'arden-claude-code');
  return join(root, safeName(sessionId));
}

/**
 * Handles one hook event: `stdin` is the JSON Claude Code sent. Never throws; a PreToolUse that
 * cannot be decided is denied (fail closed) unless `onUnavailable` is `'allow'`.
 */
export async function handleClaudeCodeHook(
  stdin: string,
  options: HookOptions,
  env: Record<string, string | undefined>,
): Promise<HookAnswer> {
  let input: Record<string, unknown>;
  try {
    const parsed = JSON.parse(stdin);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error();
    input = parsed;
  } catch {
    return {
      stdout: '',
      stderr: 'arden hook claude-code: stdin is not the JSON object Claude Code sends to hooks.\n',
      // Exit code 2 blocks the call: an unreadable event is not a reason to let it through.
      exitCode: 2,
    };
  }
  const event = stringOf(input.hook_event_name);
  const sessionId = stringOf(input.session_id) ?? 'unknown-session';
  if (options.usageOnly && event !== 'Stop' && event !== 'SessionEnd') return nothing;
  let arden: Arden | undefined;
  try {
    arden = hookArden(options, env);
  } catch (error) {
    if (event !== 'PreToolUse') return nothing;
    return preToolUse(
      'deny',
      `Arden is not configured, so this call did not run: ${(error as Error).message}`,
    );
  }
  try {
    switch (event) {
      case 'PreToolUse':
        return await checkCall(arden, input, sessionId, options, env);
      case 'PostToolUse':
      case 'PostToolUseFailure':
        return await reportOutcome(arden, input, sessionId, event === 'PostToolUse', env);
      case 'Stop':
      case 'SessionEnd':
        // With --usage-only the http hooks keep the held calls (on the server): not here.
        if (!options.usageOnly) await recordDeclined(arden, sessionId, env);
        if (options.readTranscript !== false) await recordUsage(arden, input, sessionId, env);
        return nothing;
      default:
        return nothing;
    }
  } finally {
    await arden.shutdown();
  }
}

async function checkCall(
  arden: Arden,
  input: Record<string, unknown>,
  sessionId: string,
  options: HookOptions,
  env: Record<string, string | undefined>,
): Promise<HookAnswer> {
  const toolName = stringOf(input.tool_name) ?? '';
  const server = stringOf((input.mcp_server as { name?: unknown } | undefined)?.name);
  let name = `claude_code.${toolName}`;
  try {
    name = claudeCodeToolName(toolName, server);
    const mcp = parseMcpToolName(name);
    const toolUseId = stringOf(input.tool_use_id);
    const metadata = {
      source: 'claude-code',
      session_id: sessionId,
      // An MCP tool's server, for the policies' `mcp` variable (Claude Code's hooks do not
      // carry the tool's annotations).
      ...(mcp ? { mcp: { server: mcp.server } } : {}),
      ...(toolUseId ? { tool_use_id: toolUseId } : {}),
      ...(stringOf(input.cwd) ? { cwd: input.cwd } : {}),
      ...(stringOf(input.permission_mode) ? { permission_mode: input.permission_mode } : {}),
    };
    const toolInput =
      typeof input.tool_input === 'object' && input.tool_input !== null ? input.tool_input : {};
    const context = buildCallContext([toolInput]);
    const result = await arden.check(name, context, metadata);
    if (result.decision === 'block') throw blockedError(name, result);
    let how = `Arden allowed this call to "${name}" (action ${result.actionId})`;
    if (result.decision === 'requires_approval') {
      if (options.onHeld === 'ask') {
        // The developer decides in Claude Code: recorded in Arden as an in-app decision when the
        // tool runs (PostToolUse: approved) or the turn ends without it (Stop: denied). An
        // approver can still decide in Arden while the prompt is open, and Claude Code cannot
        // withdraw a prompt: PostToolUse then reads that decision and flags a run against it
        // (reading the status again here would not help: the hold was created just now).
        if (toolUseId) await saveAction(env, sessionId, toolUseId, result.actionId, true);
        return preToolUse(
          'ask',
          `Arden holds this call to "${name}" for approval (action ${result.actionId}): ${result.message ?? 'a policy asks for a human'}. You decide here; an approver can also decide in Arden, and if one decides first, that decision stands: approving here then runs the call against it, which Arden records.`,
        );
      }
      const decision = await arden.waitForDecision(result.actionId, name);
      if (decision.status !== 'approved') {
        throw new PolicyDeniedError({
          toolName: name,
          actionId: result.actionId,
          reason: 'denied',
          notes: decision.message,
        });
      }
      // The receipt must bind the call as checked (and an edit, the edited call), as guardTool's.
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
      if (decision.edited) {
        // Approved with edit: Claude Code runs the tool with `updatedInput` in place of the
        // model's input. Answered even with --on-allow defer: answering nothing would run the
        // call as the model made it, which nobody approved. PostToolUse checks what ran.
        if (toolUseId) {
          await saveAction(env, sessionId, toolUseId, result.actionId, false, decision.edited);
        }
        return preToolUse(
          'allow',
          `An approver in Arden approved this call to "${name}" with changed input (action ${result.actionId}): ${decision.edited.message.trim()} It runs with ${decision.edited.kwargsJson}.`,
          { updatedInput: decision.edited.kwargs },
        );
      }
      how = `An approver allowed this call to "${name}" in Arden (action ${result.actionId})${decision.message ? `: ${decision.message}` : ''}`;
    }
    if (toolUseId) await saveAction(env, sessionId, toolUseId, result.actionId);
    return options.onAllow === 'allow' ? preToolUse('allow', how) : nothing;
  } catch (error) {
    if (ArdenUnavailableError.isInstance(error) && options.onUnavailable === 'allow') {
      return {
        stdout: '',
        stderr: `Arden is unreachable; "${name}" goes on unchecked (--on-unavailable allow).\n`,
        exitCode: 0,
      };
    }
    const denial = denialOf(error, name);
    if (denial) {
      const text =
        denial.reason === 'timeout' && ApprovalTimeoutError.isInstance(error)
          ? `This call to "${name}" was held for approval in Arden (action ${denial.actionId}) and nobody decided within ${options.maxWaitSeconds} s, so it did not run.`
          : defaultDenialMessage(denial);
      return preToolUse('deny', text);
    }
    return preToolUse(
      'deny',
      `Arden could not check this call to "${name}", so it did not run: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

async function saveAction(
  env: Record<string, string | undefined>,
  sessionId: string,
  toolUseId: string,
  actionId: string,
  held = false,
  edited?: EditedCall,
): Promise<void> {
  const directory = stateDirectory(env, sessionId);
  await mkdir(directory, { recursive: true, mode: 0o700 });
  await writeFile(
    join(directory, `call-${safeName(toolUseId)}.json`),
    JSON.stringify({
      actionId,
      ...(held ? { held: true } : {}),
      // An approved edit: PostToolUse compares it with the input the tool ran with.
      ...(edited ? { editedJson: edited.kwargsJson } : {}),
    }),
  );
}

/** The developer at the keyboard, as recorded for in-app decisions made in Claude Code. */
function developer(env: Record<string, string | undefined>): string {
  return env.ARDEN_USER ?? env.GIT_AUTHOR_EMAIL ?? env.USER ?? env.USERNAME ?? 'developer';
}

/**
 * Records the developer's decision on a held call that Claude Code asked about. Returns whether
 * Arden refused it: the policy does not allow in-app decisions (403), or an approver or the
 * hold's timeout decided first (409). False when Arden took it or could not be asked.
 */
async function recordAsked(
  arden: Arden,
  actionId: string,
  decision: 'approve' | 'deny',
  env: Record<string, string | undefined>,
): Promise<boolean> {
  try {
    await arden.reportInAppDecision(actionId, {
      decision,
      user: developer(env),
      notes:
        decision === 'approve'
          ? 'Approved in Claude Code by the developer at the keyboard (permission prompt).'
          : 'Not run in Claude Code: the developer declined it at the permission prompt.',
    });
    return false;
  } catch (error) {
    // 403: the policy does not allow in-app decisions; 409: it was decided (or expired) first.
    return (
      ArdenApiError.isInstance(error) && (error.statusCode === 403 || error.statusCode === 409)
    );
  }
}

/**
 * A held call that Claude Code asked about ran (the developer approved it at the permission
 * prompt), but Arden did not take that approval: what Arden decided instead, when the run went
 * against it. While Claude Code's prompt is open an approver in Arden can deny the call, or
 * approve it only with changed input, and Claude Code cannot withdraw its prompt: the run is
 * then that of a call Arden denied, or of the input an approver did not approve. Undefined when
 * the run agrees with Arden's decision (approved as it ran), or nothing was decided.
 */
async function ranAgainstDecision(
  arden: Arden,
  actionId: string,
  name: string,
  toolInput: unknown,
): Promise<string | undefined> {
  const decided = await decisionOf(arden, actionId);
  if (decided === undefined) return undefined;
  const tool = name ? `"${name}"` : 'the tool';
  if (decided.status === 'denied') {
    return `Arden denied this call to ${tool} (action ${actionId})${decided.notes ? `: ${decided.notes.trim().replace(/[.\s]+$/, '')}` : ''}. The decision came while Claude Code's permission prompt was open; the prompt was then approved, so the call ran against it.`;
  }
  if (decided.edited === undefined) return undefined;
  const ranWith = JSON.stringify(toJsonSafe(toolInput ?? null));
  if (sameJson(ranWith, decided.edited.kwargsJson)) return undefined;
  return `An approver in Arden approved this call to ${tool} only with changed input (action ${actionId}): ${decided.edited.kwargsJson}. The approval came while Claude Code's permission prompt was open; the prompt was then approved, so the call ran with ${ranWith}, which nobody in Arden approved.`;
}

/**
 * The answer for a call that ran against Arden's decision. PostToolUse: Claude reads `reason` (a
 * PostToolUse `decision: "block"` cannot undo the call, it tells Claude). PostToolUseFailure
 * (the tool ran and failed) has no decision: Claude reads `additionalContext`. The developer
 * reads `systemMessage`.
 */
function ranAgainst(fact: string, succeeded: boolean): HookAnswer {
  const text = `${fact} Treat its result as that of a call Arden did not approve: do not build on it, and tell the developer.`;
  const answer = succeeded
    ? { decision: 'block', reason: text }
    : { hookSpecificOutput: { hookEventName: 'PostToolUseFailure', additionalContext: text } };
  return {
    stdout: `${JSON.stringify({ ...answer, systemMessage: `Arden: ${text}` })}\n`,
    stderr: '',
    exitCode: 0,
  };
}

/** At the end of a turn: held calls Claude Code asked about that never ran were declined. */
async function recordDeclined(
  arden: Arden,
  sessionId: string,
  env: Record<string, string | undefined>,
): Promise<void> {
  const directory = stateDirectory(env, sessionId);
  let names: string[];
  try {
    names = (await readdir(directory)).filter((name) => /^call-.*\.json$/.test(name));
  } catch {
    return;
  }
  for (const name of names) {
    try {
      const saved = JSON.parse(await readFile(join(directory, name), 'utf8'));
      if (saved.held !== true || typeof saved.actionId !== 'string') continue;
      await rm(join(directory, name), { force: true });
      await recordAsked(arden, saved.actionId, 'deny', env);
    } catch {
      // unreadable: leave it
    }
  }
}

async function reportOutcome(
  arden: Arden,
  input: Record<string, unknown>,
  sessionId: string,
  succeeded: boolean,
  env: Record<string, string | undefined>,
): Promise<HookAnswer> {
  const toolUseId = stringOf(input.tool_use_id);
  if (!toolUseId) return nothing;
  const file = join(stateDirectory(env, sessionId), `call-${safeName(toolUseId)}.json`);
  let actionId: string | undefined;
  let held = false;
  let editedJson: string | undefined;
  try {
    const saved = JSON.parse(await readFile(file, 'utf8'));
    actionId = stringOf(saved.actionId);
    held = saved.held === true;
    editedJson = stringOf(saved.editedJson);
  } catch {
    return nothing; // not a call this hook allowed (or unchecked)
  }
  await rm(file, { force: true });
  if (!actionId) return nothing;
  const duration = typeof input.duration_ms === 'number' ? Math.max(0, input.duration_ms) : 0;
  if (held) {
    // It ran: the developer approved it at Claude Code's permission prompt. When Arden refuses
    // that approval because it was decided first, the run may have gone against the decision.
    const refused = await recordAsked(arden, actionId, 'approve', env);
    const against = refused
      ? await ranAgainstDecision(arden, actionId, toolNameOf(input), input.tool_input)
      : undefined;
    if (against !== undefined) {
      const outcome = succeeded
        ? 'succeeded'
        : `failed (${stringOf(input.error) ?? 'no error text'})`;
      arden.reportResult(actionId, {
        status: 'failed',
        duration_ms: duration,
        error: `Ran against an approver's decision: ${against} The tool itself ${outcome}.`.slice(
          0,
          2000,
        ),
      });
      return ranAgainst(against, succeeded);
    }
  }
  const ranWith =
    editedJson === undefined ? undefined : JSON.stringify(toJsonSafe(input.tool_input ?? null));
  if (editedJson !== undefined && !sameJson(ranWith ?? 'null', editedJson)) {
    // A Claude Code that ignored the hook's updatedInput ran the call as the model made it:
    // too late to stop, but recorded as such, and the model is told.
    const text = `Claude Code ran this call with ${ranWith ?? 'no input'}, not with the input an approver approved in Arden (action ${actionId}): ${editedJson}. This Claude Code did not apply the hook's updatedInput; update Claude Code. Treat the result as that of a call nobody approved.`;
    arden.reportResult(actionId, {
      status: 'failed',
      duration_ms: duration,
      error: text.slice(0, 2000),
    });
    return {
      stdout: `${JSON.stringify({ decision: 'block', reason: text })}\n`,
      stderr: '',
      exitCode: 0,
    };
  }
  arden.reportResult(actionId, {
    status: succeeded ? 'succeeded' : 'failed',
    duration_ms: duration,
    ...(succeeded ? {} : { error: (stringOf(input.error) ?? 'failed').slice(0, 2000) }),
  });
  return nothing;
}

async function recordUsage(
  arden: Arden,
  input: Record<string, unknown>,
  sessionId: string,
  env: Record<string, string | undefined>,
): Promise<void> {
  const transcript = stringOf(input.transcript_path);
  if (!transcript) return;
  const directory = stateDirectory(env, sessionId);
  const countedFile = join(directory, 'usage-counted.json');
  let counted = new Set<string>();
  try {
    counted = new Set(JSON.parse(await readFile(countedFile, 'utf8')));
  } catch {
    // first time for this session
  }
  let models: Awaited<ReturnType<typeof transcriptUsage>>;
  try {
    models = await transcriptUsage(transcript, counted);
  } catch {
    return; // no transcript (yet)
  }
  if (models.length === 0) return;
  for (const model of models) {
    arden.logTokenUsage({ ...model, sessionId });
  }
  await arden.flush();
  if (arden.usageStats.queued > 0 || arden.usageStats.dropped > 0) return; // retried at the next Stop
  await mkdir(directory, { recursive: true, mode: 0o700 });
  await writeFile(countedFile, JSON.stringify([...counted]));
}

/** The Arden tool name of a hook event's tool (for texts), or '' when it has none. */
function toolNameOf(input: Record<string, unknown>): string {
  const toolName = stringOf(input.tool_name);
  if (!toolName) return '';
  try {
    return claudeCodeToolName(
      toolName,
      stringOf((input.mcp_server as { name?: unknown } | undefined)?.name),
    );
  } catch {
    return `claude_code.${toolName}`;
  }
}

/** Whether two JSON texts hold the same value (objects compared without regard to key order). */
function sameJson(a: string, b: string): boolean {
  const sorted = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sorted);
    if (typeof value !== 'object' || value === null) return value;
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sorted((value as Record<string, unknown>)[key])]),
    );
  };
  try {
    return JSON.stringify(sorted(JSON.parse(a))) === JSON.stringify(sorted(JSON.parse(b)));
  } catch {
    return false;
  }
}
