/**
 * The stdio gateway: an MCP server to its client (on its own stdin/stdout) and an MCP client to
 * the upstream server it spawns. It relays JSON-RPC lines unchanged in both directions — every
 * method, notification and server-to-client request the two sides speak, known to this version
 * or not — except `tools/call`, which Arden checks first. A call that may run is forwarded as
 * the very line the client sent, so what was checked is byte for byte what runs; a call an
 * approver edited before approving is forwarded with the approved arguments, byte for byte as
 * approved, in place of the client's (and its result starts with a note on the edit).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import {
  type Arden,
  type EditedCall,
  invalidToolCallText,
  isValidMcpServerName,
  type McpToolsReportBody,
  recordHeldCallCancelled,
  stringifyWire,
  toolCallParams,
  withMcpEditNote,
} from '@arden/core';
import {
  type CheckMcpToolCallOptions,
  checkMcpToolCall,
  type McpToolAnnotations,
  pickAnnotations,
} from './checker';
import { InexactNumberError, parseExactJson } from './exact-json';
import {
  asRecord,
  errorCodes,
  errorLine,
  idKey,
  isId,
  isRequest,
  isResponse,
  type JsonRpcId,
  type JsonRpcMessage,
  notificationLine,
  resultLine,
} from './jsonrpc';
import { ambiguousKey } from './keys';
import { idCandidates, LineSplitter, type OversizeLine } from './lines';
import { reportToolOutcome } from './outcome';

/** Options of {@link McpGateway}. */
export interface McpGatewayOptions {
  /** The MCP server's name in Arden: its tools are checked as `mcp.<name>.<tool>`. */
  name: string;
  /** The upstream MCP server's command. */
  command: string;
  /** Its arguments. */
  args?: string[];
  /** Extra environment for the upstream (it inherits the gateway's, less Arden's secrets). */
  env?: Record<string, string>;
  /** The upstream's working directory. Default: the gateway's. */
  cwd?: string;
  /** The Arden instance that checks calls (its `onUnavailable` decides when Arden is unreachable). */
  arden: Arden;
  /** Where the client's messages arrive. Default: `process.stdin`. */
  input?: Readable;
  /** Where the client's answers go. Default: `process.stdout`. */
  output?: Writable;
  /** Where the gateway's own diagnostics go (never stdout, which is the protocol). Default: `process.stderr`. */
  diagnostics?: Writable;
  /** The longest message relayed either way, in bytes. Default 16 MiB. */
  maxMessageBytes?: number;
  /**
   * Answer a request (other than `initialize`) the upstream has not answered within this many ms
   * with an error, and cancel it upstream. Default: none (the client's own timeout applies).
   */
  upstreamTimeoutMs?: number;
  /** How often a held call sends `notifications/progress` (when the client gave a token), in ms. Default 10 000. */
  progressIntervalMs?: number;
  /** Text and metadata options of each check. */
  check?: Pick<CheckMcpToolCallOptions, 'denialMessage' | 'metadata'>;
  /**
   * The Arden session of every call this gateway checks: refused repeats, `session.*` policy
   * inputs and session budgets count within it. Default: a new id for each gateway run (each
   * client connection), `mcp-<uuid>`.
   */
  sessionId?: string;
  /**
   * Keep in `tools/list` the tools a policy blocks for every call (they stay blocked when called).
   * Default false: they are left out, so the model does not plan with them.
   */
  showBlockedTools?: boolean;
}

/** A client request that went to the upstream and awaits its answer. */
interface Forwarded {
  id: JsonRpcId;
  method: string;
  started: number;
  actionId: string | undefined;
  timer: NodeJS.Timeout | undefined;
  /** A `tools/list` without a cursor: the first page of a new list. */
  firstPage?: boolean;
  /** A `tools/call` an approver edited: its result gets the edit's note. */
  edited?: EditedCall;
}

/** Arden's own secrets: the upstream is another program and never needs them. */
const withheldVariables = ['ARDEN_API_KEY', 'ARDEN_SIGNING_KEY', 'ARDEN_ADMIN_TOKEN'];
const restartWindowMs = 60_000;
const maxRestartsInWindow = 3;
const internalIdPrefix = 'arden-gateway:';

/** The stdio gateway. `run()` resolves with an exit code when the client closes its input. */
export class McpGateway {
  private readonly options: McpGatewayOptions;
  private readonly input: Readable;
  private readonly output: Writable;
  private readonly diagnostics: Writable;
  private readonly maxMessageBytes: number;
  private upstream: ChildProcess | undefined;
  private readonly forwarded = new Map<string, Forwarded>();
  private readonly held = new Map<string, AbortController>();
  /** Requests the client cancelled (or the gateway timed out) after they were forwarded: a late answer is dropped. */
  private readonly abandoned = new Set<string>();
  private readonly annotations = new Map<string, McpToolAnnotations>();
  /** The upstream's tools as last listed (every page since the last first page), for Arden. */
  private readonly listed = new Map<string, McpToolsReportBody['tools'][number]>();
  private initializeLine: string | undefined;
  private initializedLine: Buffer | undefined;
  private readonly restarts: number[] = [];
  private spawned = 0;
  private closing = false;
  private readonly pendingChecks = new Set<Promise<void>>();
  /** The Arden session of this run's calls. */
  readonly sessionId: string;

  constructor(options: McpGatewayOptions) {
    if (!isValidMcpServerName(options.name)) {
      throw new TypeError(
        `--name ${JSON.stringify(options.name)} cannot name an MCP server in Arden: use 1 to 64 letters, digits, "_" or "-" (tools are checked as mcp.<name>.<tool>).`,
      );
    }
    this.options = options;
    this.input = options.input ?? process.stdin;
    this.output = options.output ?? process.stdout;
    this.diagnostics = options.diagnostics ?? process.stderr;
    this.maxMessageBytes = options.maxMessageBytes ?? 16 * 1024 * 1024;
    this.sessionId = options.sessionId || `mcp-${randomUUID()}`;
  }

  /** Starts the upstream and relays until the client closes its input; resolves with the exit code. */
  async run(): Promise<number> {
    this.spawnUpstream();
    const splitter = new LineSplitter(
      this.maxMessageBytes,
      (line) => this.fromClient(line),
      (line) => this.oversizeFromClient(line),
    );
    await new Promise<void>((resolve) => {
      this.input.on('data', (chunk: Buffer) => splitter.push(chunk));
      this.input.on('end', resolve);
      this.input.on('close', resolve);
      this.input.on('error', (error) => {
        this.log(`reading from the client failed: ${error.message}`);
        resolve();
      });
    });
    await this.close();
    return 0;
  }

  /** Stops the upstream and sends what Arden still has to report. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const controller of this.held.values()) controller.abort();
    await Promise.allSettled([...this.pendingChecks]);
    const child = this.upstream;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin?.end();
      const term = setTimeout(() => child.kill('SIGTERM'), 2000);
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(term);
      clearTimeout(kill);
    }
    for (const entry of this.forwarded.values()) clearTimeout(entry.timer);
    await this.options.arden.flush();
  }

  // ---- the upstream ----

  private spawnUpstream(): void {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (value !== undefined && !withheldVariables.includes(key)) env[key] = value;
    }
    Object.assign(env, this.options.env);
    const child = spawn(this.options.command, this.options.args ?? [], {
      env,
      cwd: this.options.cwd,
      stdio: ['pipe', 'pipe', 'inherit'],
      shell: false,
      windowsHide: true,
    });
    this.upstream = child;
    this.spawned += 1;
    const splitter = new LineSplitter(
      this.maxMessageBytes,
      (line) => this.fromUpstream(line),
      (line) => this.oversizeFromUpstream(line),
    );
    child.stdout?.on('data', (chunk: Buffer) => splitter.push(chunk));
    child.stdin?.on('error', (error) =>
      this.log(`writing to the MCP server failed: ${error.message}`),
    );
    child.on('error', (error) => {
      this.log(`could not run ${this.options.command}: ${error.message}`);
      this.upstreamGone(child, `could not be started (${error.message})`);
    });
    child.on('exit', (code, signal) => {
      this.upstreamGone(child, signal ? `was killed by ${signal}` : `exited with code ${code}`);
    });
  }

  private upstreamGone(child: ChildProcess, how: string): void {
    if (this.upstream !== child) return;
    this.upstream = undefined;
    if (this.closing) return;
    this.log(`the MCP server "${this.options.name}" ${how}`);
    const pending = [...this.forwarded.values()];
    this.forwarded.clear();
    for (const entry of pending) {
      clearTimeout(entry.timer);
      const text = `The MCP server "${this.options.name}" ${how} before answering ${entry.method}. The gateway starts it again on the next request.`;
      this.toClient(errorLine(entry.id, errorCodes.upstreamError, text));
      reportToolOutcome(this.options.arden, entry, { error: { message: text } });
    }
  }

  /** The running upstream, started again (and re-initialized) after it exited; undefined when it keeps exiting. */
  private liveUpstream(): ChildProcess | undefined {
    if (this.upstream) return this.upstream;
    if (this.closing) return undefined;
    const now = Date.now();
    while (this.restarts.length > 0 && (this.restarts[0] as number) < now - restartWindowMs) {
      this.restarts.shift();
    }
    if (this.restarts.length >= maxRestartsInWindow) return undefined;
    this.restarts.push(now);
    this.spawnUpstream();
    // The client initialized the session once; the new process needs the same handshake.
    if (this.initializeLine) {
      const message = JSON.parse(this.initializeLine) as JsonRpcMessage;
      message.id = `${internalIdPrefix}initialize-${this.spawned}`;
      this.writeUpstream(Buffer.from(JSON.stringify(message)));
      if (this.initializedLine) this.writeUpstream(this.initializedLine);
    }
    return this.upstream;
  }

  private writeUpstream(line: Buffer): boolean {
    const stdin = this.upstream?.stdin;
    if (!stdin || stdin.destroyed) return false;
    stdin.write(Buffer.concat([line, newline]));
    return true;
  }

  // ---- client → upstream ----

  private fromClient(line: Buffer): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line.toString('utf8'));
    } catch (error) {
      this.toClient(
        errorLine(null, errorCodes.parseError, `Parse error: ${(error as Error).message}`),
      );
      return;
    }
    if (Array.isArray(parsed)) {
      this.batchFromClient(line, parsed);
      return;
    }
    const message = asRecord(parsed) as JsonRpcMessage | undefined;
    if (!message) {
      this.toClient(
        errorLine(null, errorCodes.invalidRequest, 'Invalid Request: not a JSON-RPC object.'),
      );
      return;
    }
    const ambiguous = ambiguousKey(message);
    if (ambiguous !== undefined) {
      this.toClient(
        errorLine(
          isId(message.id) ? message.id : null,
          errorCodes.invalidRequest,
          `Invalid Request: the key ${JSON.stringify(ambiguous)} differs only in case from another the gateway reads; some MCP servers read keys case-insensitively, so the Arden gateway does not forward it.`,
        ),
      );
      return;
    }
    if (message.method === 'tools/call') {
      if (isRequest(message)) this.track(this.toolCall(line, message));
      // A tools/call without a string or number id (a notification, or an id of null, true, {}…)
      // is not forwarded: some upstreams run it anyway, and Arden never saw it.
      else this.toClient(errorLine(null, errorCodes.invalidRequest, toolCallWithoutId));
      return;
    }
    if (message.method === 'notifications/cancelled') {
      const requestId = asRecord(message.params)?.requestId;
      const heldCall = isId(requestId) ? this.held.get(idKey(requestId)) : undefined;
      if (heldCall) {
        // Never forwarded: the upstream does not know this request, so only the wait ends.
        const reason = asRecord(message.params)?.reason;
        heldCall.abort(typeof reason === 'string' ? reason.slice(0, 500) : undefined);
        return;
      }
      // Forwarded already: the notification goes on to the upstream (below), and the request is
      // over for the gateway — its outcome recorded, any late answer dropped (MCP: a cancelled
      // request gets no response).
      if (isId(requestId)) this.cancelForwarded(requestId, asRecord(message.params)?.reason);
    }
    if (isRequest(message) && message.method === 'initialize')
      this.initializeLine = line.toString('utf8');
    if (message.method === 'notifications/initialized') this.initializedLine = line;
    this.forward(line, message);
  }

  private batchFromClient(line: Buffer, batch: unknown[]): void {
    const requests = batch.map((item) => asRecord(item) as JsonRpcMessage | undefined);
    // Only a batch of plain messages none of which is a tools/call is relayed: a nested array or
    // any other odd item is refused whole, since an upstream might read it as a call.
    if (
      requests.every(
        (item) =>
          item !== undefined && item.method !== 'tools/call' && ambiguousKey(item) === undefined,
      )
    ) {
      if (!this.liveUpstream()) {
        for (const item of requests) {
          if (item && isRequest(item)) this.answerUnavailable(item.id, item.method);
        }
        return;
      }
      for (const item of requests) {
        if (item && isRequest(item)) this.remember(item.id, item.method, undefined);
      }
      this.writeUpstream(line);
      return;
    }
    const text =
      'The Arden gateway does not accept tools/call, or anything but JSON-RPC objects, inside a JSON-RPC batch; send each call as its own message.';
    let answered = false;
    for (const item of requests) {
      if (item && isRequest(item)) {
        this.toClient(errorLine(item.id, errorCodes.invalidRequest, text));
        answered = true;
      }
    }
    if (!answered) this.toClient(errorLine(null, errorCodes.invalidRequest, text));
  }

  private forward(
    line: Buffer,
    message: JsonRpcMessage,
    actionId?: string,
    edited?: EditedCall,
  ): void {
    if (!this.liveUpstream()) {
      if (isRequest(message)) this.answerUnavailable(message.id, message.method);
      return;
    }
    if (isRequest(message)) {
      const firstPage =
        message.method === 'tools/list' && asRecord(message.params)?.cursor === undefined;
      this.remember(message.id, message.method, actionId, firstPage, edited);
    }
    this.writeUpstream(line);
  }

  private remember(
    id: JsonRpcId,
    method: string,
    actionId: string | undefined,
    firstPage = false,
    edited?: EditedCall,
  ): void {
    const key = idKey(id);
    this.abandoned.delete(key);
    const entry: Forwarded = {
      id,
      method,
      started: performance.now(),
      actionId,
      timer: undefined,
      firstPage,
      ...(edited ? { edited } : {}),
    };
    const timeout = this.options.upstreamTimeoutMs;
    // Not the handshake: starting a server (`npx` fetching a package) may take longer than a call.
    if (timeout && timeout > 0 && method !== 'initialize') {
      entry.timer = setTimeout(() => this.timedOut(key), timeout);
    }
    this.forwarded.set(key, entry);
  }

  /** Ends a forwarded request the client cancelled: recorded as failed in Arden, its answer dropped. */
  private cancelForwarded(requestId: JsonRpcId, reason: unknown): void {
    const key = idKey(requestId);
    const entry = this.forwarded.get(key);
    if (!entry) return;
    this.forwarded.delete(key);
    clearTimeout(entry.timer);
    this.abandon(key);
    const why = typeof reason === 'string' && reason !== '' ? `: ${reason.slice(0, 300)}` : '';
    const text = `The MCP client cancelled ${entry.method} after the gateway had forwarded it to the MCP server "${this.options.name}"${why}. Whether it ran is the server's to say; its answer, if any, was dropped.`;
    this.log(`the client cancelled ${entry.method} (request ${key}) after it was forwarded`);
    reportToolOutcome(this.options.arden, entry, { error: { message: text } });
  }

  /** A request the client is no longer waiting for: an answer to it is dropped. */
  private abandon(key: string): void {
    this.abandoned.add(key);
    if (this.abandoned.size > maxAbandoned) {
      this.abandoned.delete(this.abandoned.values().next().value as string);
    }
  }

  private timedOut(key: string): void {
    const entry = this.forwarded.get(key);
    if (!entry) return;
    this.forwarded.delete(key);
    this.abandon(key);
    const seconds = Math.round((this.options.upstreamTimeoutMs ?? 0) / 100) / 10;
    const text = `The MCP server "${this.options.name}" did not answer ${entry.method} within ${seconds} s (--upstream-timeout); the gateway cancelled the request.`;
    this.writeUpstream(
      Buffer.from(
        notificationLine('notifications/cancelled', { requestId: entry.id, reason: text }),
      ),
    );
    this.toClient(errorLine(entry.id, errorCodes.upstreamError, text));
    reportToolOutcome(this.options.arden, entry, { error: { message: text } });
  }

  private answerUnavailable(id: JsonRpcId, method: string): void {
    const text = `The MCP server "${this.options.name}" exited ${maxRestartsInWindow} times within a minute; the gateway no longer starts it, so ${method} cannot be answered. Check the server's command and its log above.`;
    this.toClient(errorLine(id, errorCodes.upstreamError, text));
  }

  private track(promise: Promise<void>): void {
    this.pendingChecks.add(promise);
    void promise.finally(() => this.pendingChecks.delete(promise));
  }

  private async toolCall(line: Buffer, message: JsonRpcMessage & { id: JsonRpcId }): Promise<void> {
    const params = asRecord(message.params);
    const call = toolCallParams(params);
    if (!call) {
      this.toClient(errorLine(message.id, errorCodes.invalidParams, invalidToolCallText));
      return;
    }
    const tool = call.tool;
    let exactArguments = call.arguments ?? {};
    let exactParams = params ?? {};
    const text = line.toString('utf8');
    // Only a number of 16 digits or more, or with a 3-digit exponent, can differ from what
    // JSON.parse made of it: parse again, exactly, only then (the common call pays nothing).
    if (mayHoldInexactNumbers.test(text)) {
      try {
        const exact = parseExactJson(text) as { params: { arguments?: Record<string, unknown> } };
        exactArguments = exact.params.arguments ?? {};
        exactParams = exact.params;
      } catch (error) {
        const reason = error instanceof InexactNumberError ? error.message : String(error);
        this.toClient(errorLine(message.id, errorCodes.invalidParams, `Invalid params: ${reason}`));
        return;
      }
    }
    const key = idKey(message.id);
    const controller = new AbortController();
    this.held.set(key, controller);
    const progressToken = asRecord(params?._meta)?.progressToken;
    let progress = 0;
    const outcome = await checkMcpToolCall(
      this.options.arden,
      {
        server: this.options.name,
        tool,
        arguments: exactArguments,
        annotations: this.annotations.get(tool),
      },
      {
        ...this.options.check,
        metadata: { ...this.options.check?.metadata, session_id: this.sessionId },
        // An approver's edit is forwarded in place of the client's arguments (below).
        runsEdits: true,
        signal: controller.signal,
        progressIntervalMs: this.options.progressIntervalMs,
        onWaiting: (actionId, waitedMs) => {
          if (!isId(progressToken)) return;
          progress += 1;
          this.toClient(
            notificationLine('notifications/progress', {
              progressToken,
              progress,
              message: `Waiting for a human to approve this call in Arden (action ${actionId}, ${Math.round(waitedMs / 1000)} s so far).`,
            }),
          );
        },
      },
    );
    this.held.delete(key);
    if (outcome.kind === 'cancelled' || (outcome.kind === 'run' && controller.signal.aborted)) {
      // MCP: a cancelled request gets no answer. A call still held is recorded cancelled in
      // Arden, so nobody approves a call that is gone (one decided meanwhile stays as decided).
      this.log(`the client cancelled ${tool} while Arden held it; it did not run`);
      if (outcome.kind === 'cancelled') await this.recordCancelled(outcome.actionId, controller);
      return;
    }
    if (outcome.kind === 'refuse') {
      this.toClient(resultLine(message.id, outcome.result));
      return;
    }
    if (outcome.edited) {
      this.log(
        `an approver edited ${tool} before approving it; it runs with the approved arguments`,
      );
      const edited = editedCallLine(message.id, exactParams, outcome.edited.argumentsJson);
      this.forward(edited, message, outcome.actionId, outcome.edited.call);
      return;
    }
    this.forward(line, message, outcome.actionId);
  }

  /** Records a held call that will never run as cancelled in Arden (awaited by close()). */
  private recordCancelled(actionId: string, controller: AbortController): Promise<void> {
    return recordHeldCallCancelled(this.options.arden, actionId, {
      signal: controller.signal,
      ended: this.closing
        ? 'the MCP client disconnected from the Arden gateway while the call was held'
        : undefined,
      log: (text) => this.log(text),
    });
  }

  private oversizeFromClient(line: OversizeLine): void {
    const text = `The message was ${line.bytes} bytes, over the Arden gateway's limit of ${this.maxMessageBytes} (--max-message-bytes); it was not forwarded.`;
    const ids = idCandidates(line);
    this.toClient(
      errorLine(
        ids.length > 0 ? (JSON.parse(ids[0] as string) as JsonRpcId) : null,
        errorCodes.invalidRequest,
        text,
      ),
    );
  }

  // ---- upstream → client ----

  private fromUpstream(line: Buffer): void {
    let message: JsonRpcMessage | undefined;
    try {
      message = asRecord(JSON.parse(line.toString('utf8'))) as JsonRpcMessage | undefined;
    } catch {
      message = undefined;
    }
    if (message === undefined) {
      this.log(
        `the MCP server wrote a line that is not a JSON-RPC message (${line.length} bytes); it was dropped: ${line.toString('utf8', 0, 120)}`,
      );
      return;
    }
    if (isResponse(message)) {
      if (typeof message.id === 'string' && message.id.startsWith(internalIdPrefix)) return;
      const entry = this.forwarded.get(idKey(message.id));
      if (entry) {
        this.forwarded.delete(idKey(message.id));
        clearTimeout(entry.timer);
        if (entry.method === 'tools/list' && Array.isArray(asRecord(message.result)?.tools)) {
          this.learnTools(message.result);
          this.track(this.relayToolsList(entry, message, line));
          return;
        }
        reportToolOutcome(this.options.arden, entry, message);
        if (entry.edited && 'result' in message) {
          this.toClient(withEditNoteLine(line, entry.edited));
          return;
        }
      } else if (this.abandoned.delete(idKey(message.id))) {
        this.log(
          `dropped the MCP server's late answer to request ${idKey(message.id)}, which was cancelled or timed out`,
        );
        return;
      }
    }
    this.toClient(line);
  }

  /**
   * Reports the upstream's tool list to Arden (recorded with each tool's schema and annotations)
   * and relays the list without the tools a policy blocks for every call. When Arden cannot be
   * reached the list goes out whole: hiding is a courtesy to the model, every call is checked.
   */
  private async relayToolsList(
    entry: Forwarded,
    message: JsonRpcMessage,
    line: Buffer,
  ): Promise<void> {
    const result = asRecord(message.result) as Record<string, unknown>;
    const tools = result.tools as unknown[];
    if (entry.firstPage) this.listed.clear();
    for (const tool of tools) {
      const reported = reportedTool(tool);
      if (reported !== undefined && this.listed.size < maxReportedTools) {
        this.listed.set(reported.name, reported);
      }
    }
    let hidden = new Set<string>();
    try {
      const answer = await this.options.arden.reportMcpTools({
        server: this.options.name,
        transport: 'stdio',
        tools: [...this.listed.values()],
      });
      hidden = new Set(answer.hidden.map((tool) => tool.name));
    } catch (error) {
      this.log(
        `could not report the tool list to Arden, so no tool is hidden from it (every call is still checked): ${(error as Error).message}`,
      );
    }
    if (this.options.showBlockedTools || hidden.size === 0) {
      this.toClient(line);
      return;
    }
    const kept = tools.filter((tool) => !hidden.has(String(asRecord(tool)?.name)));
    this.toClient(JSON.stringify({ ...message, result: { ...result, tools: kept } }));
  }

  private oversizeFromUpstream(line: OversizeLine): void {
    const text = `The MCP server "${this.options.name}" answered with ${line.bytes} bytes, over the Arden gateway's limit of ${this.maxMessageBytes} (--max-message-bytes); the answer was dropped.`;
    this.log(text);
    for (const candidate of idCandidates(line)) {
      const key = idKey(JSON.parse(candidate) as JsonRpcId);
      const entry = this.forwarded.get(key);
      if (!entry) continue;
      this.forwarded.delete(key);
      clearTimeout(entry.timer);
      this.toClient(errorLine(entry.id, errorCodes.upstreamError, text));
      reportToolOutcome(this.options.arden, entry, { error: { message: text } });
      return;
    }
  }

  private learnTools(result: unknown): void {
    const tools = asRecord(result)?.tools;
    if (!Array.isArray(tools)) return;
    for (const tool of tools) {
      const record = asRecord(tool);
      if (typeof record?.name !== 'string') continue;
      if (record.annotations === undefined) this.annotations.delete(record.name);
      else this.annotations.set(record.name, pickAnnotations(record.annotations));
    }
  }

  // ---- output ----

  private toClient(line: Buffer | string): void {
    if (this.output.destroyed || this.output.writableEnded) return;
    this.output.write(typeof line === 'string' ? `${line}\n` : Buffer.concat([line, newline]));
  }

  private log(message: string): void {
    this.diagnostics.write(`[arden mcp ${this.options.name}] ${message}\n`);
  }
}

const newline = Buffer.from('\n');
/** The most cancelled requests whose late answers the gateway remembers to drop. */
const maxAbandoned = 1_000;
/** The most tools one report to Arden carries (the server's limit). */
const maxReportedTools = 2_000;

/** One tool of a `tools/list` as Arden records it, or undefined when it has no usable name. */
function reportedTool(tool: unknown): McpToolsReportBody['tools'][number] | undefined {
  const record = asRecord(tool);
  if (typeof record?.name !== 'string' || record.name === '' || record.name.length > 256) {
    return undefined;
  }
  const annotations = asRecord(record.annotations);
  return {
    name: record.name,
    ...(typeof record.title === 'string' ? { title: record.title.slice(0, 200) } : {}),
    ...(typeof record.description === 'string'
      ? { description: record.description.slice(0, 10_000) }
      : {}),
    ...(record.inputSchema === undefined ? {} : { input_schema: record.inputSchema }),
    ...(annotations === undefined ? {} : { annotations }),
  };
}
const toolCallWithoutId =
  'Invalid Request: tools/call needs a string or number id; the Arden gateway does not forward it otherwise.';
const mayHoldInexactNumbers = /\d{16}|[eE][+-]?\d{3}/;

/**
 * The line of a `tools/call` with an approver's edit: the client's params (its tool name and
 * `_meta`) with `argumentsJson` — the approved bytes, not a serialization of them — as arguments.
 */
function editedCallLine(
  id: JsonRpcId,
  params: Record<string, unknown>,
  argumentsJson: string,
): Buffer {
  const { arguments: _replaced, ...rest } = params;
  const restJson = stringifyWire(rest);
  const paramsJson =
    restJson === '{}'
      ? `{"arguments":${argumentsJson}}`
      : `${restJson.slice(0, -1)},"arguments":${argumentsJson}}`;
  return Buffer.from(
    `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"tools/call","params":${paramsJson}}`,
  );
}

/**
 * An edited call's result line with the edit's note as its first content item, numbers kept
 * exact; the line unchanged when it cannot be read exactly (the result matters more than the note).
 */
function withEditNoteLine(line: Buffer, edited: EditedCall): Buffer | string {
  try {
    const message = parseExactJson(line.toString('utf8')) as JsonRpcMessage;
    const result = withMcpEditNote(message.result, edited);
    return result === message.result ? line : stringifyWire({ ...message, result });
  } catch {
    return line;
  }
}
