import { EFFECTS } from '@arden/policy';
import * as z from 'zod';
import { modelCallDescribedRoutes } from '../budgets/routes';
import { toolsReport, toolsReportAnswer } from '../mcp/schema';
import type { DescribedRoute } from './described-route';

// The agent API as the OpenAPI document describes it. Its handlers (src/agent) validate by hand
// for speed and ardenpy's exact messages; these schemas describe the same wire format.

const timestamp = z.string().meta({ format: 'date-time' });

const checkRequest = z
  .object({
    tool_name: z.string().min(1).max(256).meta({ description: 'The tool being called.' }),
    args: z
      .array(z.unknown())
      .optional()
      .meta({ description: 'Positional arguments; stored and sent back byte for byte.' }),
    kwargs: z.record(z.string(), z.unknown()).optional().meta({
      description:
        'Named arguments: what policy conditions see as `args` (integers exactly, as CEL int or uint). Stored and sent back byte for byte. A key twice in one object, and bare NaN or Infinity, are refused (400).',
    }),
    metadata: z
      .looseObject({ session_id: z.union([z.string().max(256), z.number()]).optional() })
      .nullable()
      .optional()
      .meta({
        description: '`session_id` groups calls into a session; a number is read as its digits.',
      }),
  })
  .meta({ id: 'CheckRequest' });

const receiptField = z.string().meta({
  description:
    "The server's signed receipt of the decision, bound to the exact call: `r2~claims~inclusion path~root JWS` (the receipts of one commit share one EdDSA/Ed25519 signature over a Merkle root; see docs/security.md); verify it with @arden/core's verifyReceipt and /.well-known/arden-keys.json. Present when the server signs receipts (not while a held call is pending).",
});

const checkResponse = z
  .object({
    decision: z.enum(EFFECTS),
    action_id: z.string(),
    reason: z.string().meta({
      description:
        "rule_matched, policy_default, no_policy_configured, or condition_error / invalid_arguments when a condition could not be evaluated or the arguments had the wrong declared types and the policy's on_error decided.",
    }),
    status: z.enum(['completed', 'pending']),
    environment: z.enum(['test', 'live']),
    message: z.string().optional(),
    explanation: z.string().optional(),
    policy: z
      .object({
        id: z.string().nullable(),
        name: z.string(),
        tool: z.string(),
        version: z.number().nullable(),
        rule_index: z.number().nullable(),
      })
      .optional(),
    expires_at: timestamp.optional(),
    on_timeout: z.enum(['deny', 'allow']).optional(),
    similar_policy_tools: z.array(z.string()).optional().meta({
      description:
        'With reason no_policy_configured: the tools of policies whose name differs from tool_name only by a prefix (a probable naming mistake).',
    }),
    receipt: receiptField.optional(),
  })
  .meta({ id: 'CheckResponse' });

const statusResponse = z
  .object({
    action_id: z.string(),
    status: z.enum(['pending', 'approved', 'denied']),
    message: z.string().nullable(),
    created_at: timestamp,
    receipt: z.string().optional().meta({
      description:
        "The signed receipt of the action's latest decision (see CheckResponse.receipt): the approval, denial or expiry once decided; while pending, the check's `hold` receipt (`runs: false`), which binds the held call, so that a client resuming an approval from elsewhere (a framework's message history) can check that the action is for the call it is about to run. Present when the server signs receipts.",
    }),
  })
  .meta({ id: 'StatusResponse' });

const usageEventRequest = z.object({
  model: z.string().min(1).max(200),
  prompt_tokens: z.number().int().min(0),
  completion_tokens: z.number().int().min(0),
  session_id: z
    .union([z.string().max(256), z.number()])
    .nullable()
    .optional(),
  occurred_at: timestamp.optional(),
  reservation_id: z.string().max(100).optional().meta({
    description: 'The reservation of POST /v1/model-calls/check this call settles.',
  }),
});

const usageRequest = z
  .union([usageEventRequest, z.object({ events: z.array(usageEventRequest).min(1).max(1000) })])
  .meta({ id: 'UsageRequest' });

const usageResponse = z
  .union([
    z.object({
      usage_id: z.string(),
      model: z.string(),
      prompt_tokens: z.number().int(),
      completion_tokens: z.number().int(),
      total_tokens: z.number().int(),
      total_cost_usd: z.number(),
      rate_found: z.boolean(),
    }),
    z.object({
      accepted: z.number().int(),
      usage_ids: z.array(z.string()),
      total_tokens: z.number().int(),
      total_cost_usd: z.number(),
      rate_found: z.boolean(),
      unpriced_models: z.array(z.string()).optional(),
    }),
  ])
  .meta({ id: 'UsageResponse' });

const resultRequest = z
  .object({
    status: z.enum(['succeeded', 'failed']),
    duration_ms: z.number().min(0).nullable().optional(),
    error: z.string().nullable().optional(),
    result: z.unknown().optional().meta({ description: 'Stored up to 64 KiB.' }),
  })
  .meta({ id: 'ResultRequest' });

/** The schemas of the agent API's bodies (tests check the real answers against them). */
export const agentApiSchemas = {
  checkRequest,
  checkResponse,
  statusResponse,
  usageRequest,
  usageResponse,
  resultRequest,
};

/** The agent API's routes, for the OpenAPI document. */
export const agentApiRoutes: readonly DescribedRoute[] = [
  {
    method: 'POST',
    path: '/policy/check',
    access: 'agent',
    tag: 'agent API',
    summary: 'Check a tool call against the policies (every check is logged as an action)',
    body: checkRequest,
    response: checkResponse,
  },
  {
    method: 'GET',
    path: '/status/:action_id',
    access: 'agent',
    tag: 'agent API',
    summary: "An action's status; `wait` holds the request until it is decided",
    params: { action_id: 'From POST /policy/check.' },
    query: z.object({
      wait: z.coerce
        .number()
        .min(0)
        .max(30)
        .optional()
        .meta({ description: 'Seconds to wait for a decision (long-poll), at most 30.' }),
    }),
    response: statusResponse,
  },
  {
    method: 'POST',
    path: '/token-usage',
    access: 'agent',
    tag: 'agent API',
    summary: "Record an LLM call's token usage (or `events`, a batch)",
    body: usageRequest,
    response: usageResponse,
  },
  ...modelCallDescribedRoutes,
  {
    method: 'POST',
    path: '/v1/actions/:action_id/result',
    access: 'agent',
    tag: 'agent API',
    summary: 'Report the outcome of a call that ran',
    params: { action_id: 'The action.' },
    body: resultRequest,
    response: z.object({
      action_id: z.string(),
      result_status: z.enum(['succeeded', 'failed']),
      recorded: z.literal(true),
    }),
  },
  {
    method: 'POST',
    path: '/v1/actions/results',
    access: 'agent',
    tag: 'agent API',
    summary: 'Report several outcomes in one request',
    body: z.object({
      results: z
        .array(resultRequest.extend({ action_id: z.string() }))
        .min(1)
        .max(1000),
    }),
    response: z.object({
      accepted: z.number().int(),
      rejected: z.array(z.string()).meta({
        description:
          'Actions that take no outcome (blocked, still held, unknown), or not yours. A held call that was denied takes one: a client that ran it anyway reports that run.',
      }),
    }),
  },
  {
    method: 'POST',
    path: '/v1/actions/:action_id/run',
    access: 'agent',
    tag: 'agent API',
    summary: 'Claim the single run of an approved action, just before its tool runs',
    description:
      "An approval runs one call once. A client that resumes an approval carried outside Arden (the AI SDK adapter, from the chat's message history) claims the run first: 200 the first time; 409 when the action already ran or its run was claimed (a replayed approval), or when it cannot run (pending, denied, blocked, expired with on_timeout deny). The claim sets the time the outcome report (POST /v1/actions/{action_id}/result) later fills in.",
    params: { action_id: 'From POST /policy/check.' },
    body: z.object({}),
    response: z.object({ action_id: z.string(), claimed: z.literal(true) }),
  },
  {
    method: 'POST',
    path: '/v1/actions/:action_id/cancel',
    access: 'agent',
    tag: 'agent API',
    summary: 'Give up a held call (the client cancelled it): it never runs, and cannot be decided',
    description:
      'The action becomes cancelled; approving or denying it afterwards answers 409, and so does this route when the action was decided (or expired) first. The Arden MCP gateway calls it when its client sends notifications/cancelled for a held tools/call.',
    params: { action_id: 'From POST /policy/check.' },
    body: z.object({
      reason: z.string().nullable().optional().meta({ description: 'Why, kept as the notes.' }),
    }),
    response: statusResponse.extend({ cancelled: z.literal(true) }),
  },
  {
    method: 'POST',
    path: '/v1/mcp/tools',
    access: 'agent',
    tag: 'agent API',
    summary: "An MCP gateway reports its upstream's tools/list; learns which tools to hide",
    description:
      'Each tool is recorded with its input schema and annotations (the dashboard shows them). The answer names the tools a policy blocks for every call, which the gateway leaves out of the list it gives its client, and whether an admin trusts the upstream.',
    body: toolsReport,
    response: toolsReportAnswer,
  },
  {
    method: 'POST',
    path: '/mcp/:name',
    access: 'agent',
    tag: 'agent API',
    summary: 'The Streamable HTTP MCP gateway: an MCP endpoint in front of a registered upstream',
    description:
      "MCP's Streamable HTTP transport (POST messages, GET the session's event stream, DELETE ends the session; Mcp-Session-Id, Last-Event-ID resumption). Every tools/call is checked as mcp.<name>.<tool> before the upstream sees it: blocked → a CallToolResult with isError and the reason; held → answered after the decision (notifications/progress meanwhile when the call has a progress token). Everything else is relayed to the upstream registered under that name (POST /api/v1/mcp/http-upstreams). Authenticate with the agent key (X-API-Key, or Authorization: Bearer). See docs/integrations/mcp.md.",
    params: { name: 'The registered upstream: the <server> of mcp.<server>.<tool>.' },
    body: z
      .looseObject({ jsonrpc: z.literal('2.0'), method: z.string().optional() })
      .meta({ id: 'McpJsonRpcMessage' }),
    response: z.looseObject({ jsonrpc: z.literal('2.0') }).meta({
      description:
        'A JSON-RPC answer, as JSON or as a text/event-stream of messages (the client accepts both).',
    }),
  },
  {
    method: 'GET',
    path: '/.well-known/arden-keys.json',
    access: 'public',
    tag: 'receipts',
    summary: 'The public keys that verify receipts and audit checkpoints (retired keys included)',
    response: z.object({
      keys: z.array(
        z.object({
          kty: z.literal('OKP'),
          crv: z.literal('Ed25519'),
          kid: z.string(),
          x: z.string(),
          alg: z.literal('EdDSA').optional(),
          use: z.literal('sig').optional(),
          created_at: z.string().optional(),
          retired_at: z.string().nullable().optional(),
        }),
      ),
      receipts: z.enum(['enabled', 'disabled']),
    }),
  },
  {
    method: 'POST',
    path: '/v1/hooks/claude-code',
    access: 'agent',
    tag: 'agent API',
    summary: "The receiver of Claude Code's http hooks: a hook event in, the hook's answer out",
    description:
      'The body is the hook event as Claude Code sends it. PreToolUse is checked as POST /policy/check would (a held call waits up to max_wait seconds) and answered with hookSpecificOutput.permissionDecision (deny, ask or allow, with a reason); PostToolUse and PostToolUseFailure report the outcome; other events answer {}. A refused event answers 400 with the reason. See docs/integrations/claude-code.md.',
    query: z.object({
      on_held: z.enum(['ask']).optional().meta({
        description:
          'Answer ask for a held call (the developer decides; recorded as an in-app decision).',
      }),
      on_allow: z.enum(['allow']).optional().meta({
        description:
          "Answer allow for an allowed call (skips Claude Code's own permission prompt).",
      }),
      max_wait: z.coerce.number().int().min(1).max(3600).optional().meta({
        description: 'Seconds a held call waits for a decision.',
      }),
    }),
    body: z
      .looseObject({
        hook_event_name: z.string(),
        session_id: z.string().optional(),
        tool_name: z.string().optional(),
        tool_input: z.record(z.string(), z.unknown()).optional(),
        tool_use_id: z.string().optional(),
      })
      .meta({ id: 'ClaudeCodeHookEvent' }),
    response: z
      .looseObject({
        hookSpecificOutput: z
          .object({
            hookEventName: z.string(),
            permissionDecision: z.enum(['allow', 'deny', 'ask']),
            permissionDecisionReason: z.string().optional(),
          })
          .optional(),
      })
      .meta({ id: 'ClaudeCodeHookAnswer' }),
  },
  {
    method: 'GET',
    path: '/healthz',
    access: 'public',
    tag: 'health',
    summary: 'The process is up',
    response: z.object({ status: z.literal('ok') }),
  },
  {
    method: 'GET',
    path: '/readyz',
    access: 'public',
    tag: 'health',
    summary: 'The store answers too (else 503)',
    response: z.object({ status: z.literal('ready') }),
  },
];
