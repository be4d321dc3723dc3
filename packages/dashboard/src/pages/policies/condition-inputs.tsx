/** What a condition can read, offered in the editor: a click inserts it at the cursor. */
export const CONDITION_INPUTS: readonly { snippet: string; description: string }[] = [
  { snippet: 'args.', description: "the call's keyword arguments" },
  { snippet: 'tool', description: "the tool's name" },
  { snippet: 'session', description: 'the session id, or null' },
  { snippet: 'agent.name', description: 'the agent ({id, name})' },
  { snippet: 'environment', description: '"test" or "live"' },
  { snippet: 'now.getHours("UTC")', description: 'the time of the call' },
  { snippet: 'mcp.annotations.destructiveHint', description: "an MCP tool's hints" },
  { snippet: 'shell.commands(args.command)', description: 'the commands of a shell line' },
  { snippet: 'path.within(args.path, "/repo")', description: 'a path inside a root' },
  {
    snippet: 'session.calls("stripe.*", duration("24h"))',
    description: 'calls in this session matching a tool pattern, optionally in a window',
  },
  {
    snippet: 'session.calls("stripe.*", duration("1h"), "allowed")',
    description: 'by decision: "allowed", "blocked", "approved" or "denied"',
  },
  {
    snippet: 'agent.calls("stripe.*", duration("1h"))',
    description: "the agent's calls across sessions, in a window",
  },
  { snippet: 'session.cost_usd', description: 'dollars recorded for this session so far' },
  { snippet: 'agent.cost_usd(duration("24h"))', description: "the agent's dollars in a window" },
  { snippet: 'session.tokens', description: 'tokens recorded for this session so far' },
  { snippet: 'session.approved("db.read")', description: 'an earlier call was approved' },
  {
    snippet: 'session.denied("stripe.*", args)',
    description: 'an earlier call (with these arguments) was refused',
  },
];

/**
 * The inputs as buttons; `onInsert` receives the snippet of the one clicked. `tools` are the tool
 * names the MCP gateways discovered (`mcp.<server>.<tool>`), offered the same way.
 */
export function ConditionInputs({
  onInsert,
  tools = [],
}: {
  onInsert: (snippet: string) => void;
  tools?: readonly string[];
}) {
  return (
    <details className="condition-inputs">
      <summary>Condition inputs</summary>
      {tools.length > 0 ? (
        <ul aria-label="Discovered MCP tools">
          {tools.map((tool) => (
            <li key={tool}>
              <button
                type="button"
                className="link-button"
                title="a tool an MCP gateway reported"
                onClick={() => onInsert(tool)}
              >
                <code>{tool}</code>
              </button>{' '}
              <span className="muted">an MCP tool the gateways reported</span>
            </li>
          ))}
        </ul>
      ) : null}
      <ul aria-label="Condition inputs">
        {CONDITION_INPUTS.map((input) => (
          <li key={input.snippet}>
            <button
              type="button"
              className="link-button"
              title={input.description}
              onClick={() => onInsert(input.snippet)}
            >
              <code>{input.snippet}</code>
            </button>{' '}
            <span className="muted">{input.description}</span>
          </li>
        ))}
      </ul>
    </details>
  );
}
