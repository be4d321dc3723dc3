// The admin API's JSON shapes (snake_case), under the names the pages use. They are not written
// here: each is a schema of the wire contract (@arden/contract), generated from the OpenAPI
// document that the server's zod schemas produce, so a server change that the dashboard does not
// follow fails its type check. The few lists needed at run time (the options of a select) are
// checked against the contract to hold every value once.
import type { RequestBody, Schemas } from '@arden/contract';

export type { RequestBody };

/** A policy decision: `allow`, `block` or `requires_approval`. */
export type Effect = Schemas['Agent']['default_action'];
/** An environment: `test` or `live`. */
export type Environment = Schemas['PolicySet']['environment'];
/** A user's role. */
export type Role = Schemas['User']['role'];
/** Where an action is: pending, approved, denied, completed, expired or cancelled. */
export type ActionStatus = Schemas['Action']['status'];

/**
 * `values` typed as a list of every member of `T`: a value that is not a `T` is a type error, and
 * so is a member of `T` that the list leaves out (the contract gained one the page must offer).
 */
function allOf<T extends string>() {
  return <const List extends readonly T[]>(
    values: List & ([T] extends [List[number]] ? unknown : { missing: Exclude<T, List[number]> }),
  ): readonly T[] => values;
}

/** The decisions, in the order the pickers offer them. */
export const effects = allOf<Effect>()(['allow', 'block', 'requires_approval']);
/** The environments. */
export const environments = allOf<Environment>()(['test', 'live']);
/** The roles, least first. */
export const roles = allOf<Role>()(['viewer', 'approver', 'admin']);
/** The action statuses, in the order the filter offers them. */
export const actionStatuses = allOf<ActionStatus>()([
  'pending',
  'approved',
  'denied',
  'completed',
  'expired',
  'cancelled',
]);

/** A page of a list route: its items and the cursor of the next page (null: the last). */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** The error answer of every route. */
export type ErrorBody = Schemas['Error'];
/** A policy problem, with line and column inside a CEL condition. */
export type PolicyIssue = NonNullable<ErrorBody['issues']>[number];

export type User = Schemas['User'];
export type Me = Schemas['Me'];
export type UserCreated = Schemas['UserCreated'];
export type AdminToken = Schemas['AdminToken'];
export type AdminTokenCreated = Schemas['AdminTokenCreated'];
export type ApiKey = Schemas['ApiKey'];
export type ApiKeyCreated = Schemas['ApiKeyCreated'];
export type Agent = Schemas['Agent'];
export type AgentDetail = Schemas['AgentDetail'];
export type AgentCreated = Schemas['AgentCreated'];
export type SigningKeyRotated = Schemas['SigningKeyRotated'];

/**
 * A policy as written (see docs/policies.md): the editor's drafts are any YAML map, checked by
 * the server.
 */
export type PolicyDefinition = Schemas['Policy'];
export type PolicySet = Schemas['PolicySet'];
export type PolicyVersion = Schemas['PolicyVersion'];
export type Validation = Schemas['PolicyValidation'];
export type Simulation = Schemas['PolicySimulation'];
/** The simulation over a window of the log (one JSON answer; the stream sends its parts). */
export type HistorySimulation = Schemas['PolicyHistorySimulation'];
export type HistoryFlip = HistorySimulation['flips'][number];
export type FlipCounts = HistorySimulation['vs_current'];
/** Counts so far, as the stream's progress lines and its last line carry them. */
export type SimulationCounts = Pick<
  HistorySimulation,
  'total' | 'scanned' | 'evaluated' | 'sampled' | 'vs_current' | 'vs_logged'
>;
/** One replayed decision of a simulation. */
export type DecisionView = Simulation['items'][number]['new'];

export type Action = Schemas['Action'];
export type ActionDetail = Schemas['ActionDetail'];
/** An action's sensitive arguments in full (an admin's logged read). */
export type SensitiveArguments = Schemas['SensitiveArguments'];
/** One entry of an action's sensitive-read log. */
export type SensitiveRead = Schemas['SensitiveRead'];
export type Approval = Schemas['Approval'];
export type Delivery = Schemas['Delivery'];
export type DeliveryDetail = Schemas['DeliveryDetail'];
export type Channel = Schemas['Channel'];
export type ChannelMessage = Schemas['ChannelMessage'];
/** A channel as created: a generated webhook signing key shown this once. */
export type CreatedChannel = Schemas['CreatedChannel'];
export type DeliveryAttempt = Schemas['DeliveryAttempt'];

export type Session = Schemas['Session'];
export type SessionDetail = Schemas['SessionDetail'];
export type BudgetOverview = Schemas['BudgetOverview'];
export type TimelineEntry = SessionDetail['timeline'][number];
export type UsageEvent = Schemas['UsageEvent'];
export type UsageReport = Schemas['Usage'];
export type UsageAggregate = UsageReport['totals'];
export type UsageGroup = UsageReport['group_by'];

export type LiveEvent = Schemas['LiveEvent'];
export type LiveEventType = LiveEvent['type'];
/** The live event types (the stream names its events by them). */
export const liveEventTypes = allOf<LiveEventType>()([
  'action.created',
  'action.decided',
  'action.voted',
  'action.reported',
  'usage.recorded',
  'webhook.attempted',
  'mcp.tools_reported',
  'mcp.trust_changed',
  'mcp.upstream_deleted',
  'mcp.http_upstream_added',
  'mcp.http_upstream_changed',
  'mcp.http_upstream_removed',
]);

/** An MCP server a gateway reported (stdio or HTTP), per agent and environment. */
export type McpUpstream = Schemas['McpUpstream'];
/** An MCP upstream with its tools, their annotations and the policy that governs each. */
export type McpUpstreamDetail = Schemas['McpUpstreamDetail'];
export type McpUpstreamTool = McpUpstreamDetail['tools'][number];
/** A remote MCP server of the HTTP gateway: never its URL, header values or token. */
export type McpHttpUpstream = Schemas['McpHttpUpstream'];
