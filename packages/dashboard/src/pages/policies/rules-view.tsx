import type { Effect, PolicyDefinition } from '../../api/types';
import { Badge, Empty } from '../../components/states';

interface RuleDefinition {
  if?: string;
  then?: string;
  timeout?: number;
  on_timeout?: string;
  on_error?: string;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);
}

/** The policies as a reader sees them: which tool, which rules in order, the default. */
export function RulesView({
  policies,
  defaultAction,
}: {
  policies: PolicyDefinition[];
  defaultAction: Effect | undefined;
}) {
  return (
    <div className="rules-view">
      <p className="muted">
        The most specific policy decides a call: the exact tool name, else the longest matching
        prefix, else <code>*</code>. Its rules are tried in order; the first whose condition holds
        decides. A tool that no policy matches gets the agent's default:{' '}
        {defaultAction ? <Badge value={defaultAction} /> : '—'}.
      </p>
      {policies.length === 0 ? (
        <Empty title="No policy in this environment.">
          <p>Every call gets the agent's default action. Write policies in the editor.</p>
        </Empty>
      ) : (
        policies.map((policy, index) => {
          const rules = (Array.isArray(policy.rules) ? policy.rules : []) as RuleDefinition[];
          const fallback = text(policy.default ?? policy.action ?? (rules.length ? 'block' : ''));
          return (
            <section
              // Names are unique in a valid set; the index keeps a broken draft renderable.
              // biome-ignore lint/suspicious/noArrayIndexKey: see above.
              key={`${index}-${text(policy.name)}`}
              className="panel policy"
              aria-label={`Policy ${text(policy.name)}`}
            >
              <h3>
                {text(policy.name)} <code className="policy-tool">{text(policy.tool)}</code>
                {policy.enabled === false ? <Badge value="disabled" /> : null}
              </h3>
              {policy.description ? <p>{text(policy.description)}</p> : null}
              {policy.args && typeof policy.args === 'object' ? (
                <p>
                  Arguments:{' '}
                  <code>
                    {Object.entries(policy.args as Record<string, unknown>)
                      .map(([name, type]) => `${name}: ${text(type)}`)
                      .join(', ')}
                  </code>{' '}
                  (a call with other types is decided as on error)
                </p>
              ) : null}
              {rules.length > 0 ? (
                <table className="table table-compact">
                  <thead>
                    <tr>
                      <th scope="col">#</th>
                      <th scope="col">If</th>
                      <th scope="col">Then</th>
                    </tr>
                  </thead>
                  <tbody>
                    {rules.map((rule, ruleIndex) => (
                      // biome-ignore lint/suspicious/noArrayIndexKey: rules are ordered.
                      <tr key={ruleIndex}>
                        <td>{ruleIndex + 1}</td>
                        <td>
                          <code>{rule.if ?? 'always'}</code>
                        </td>
                        <td>
                          <Badge value={text(rule.then)} />
                          {rule.timeout ? ` ${rule.timeout} s` : ''}
                          {rule.on_timeout ? `, then ${rule.on_timeout}` : ''}
                          {rule.on_error ? ` (on error: ${text(rule.on_error)})` : ''}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              ) : null}
              <p>
                {rules.length > 0 ? 'Otherwise' : 'Always'}: <Badge value={fallback} />
                {policy.timeout ? ` — waits ${text(policy.timeout)} s` : ''}
                {policy.on_timeout ? `, then ${text(policy.on_timeout)}` : ''}
              </p>
              {rules.some((rule) => rule.if !== undefined) || policy.args ? (
                <p className="muted">
                  When a condition cannot be evaluated:{' '}
                  <Badge value={text(policy.on_error ?? 'block')} />
                </p>
              ) : null}
            </section>
          );
        })
      )}
    </div>
  );
}
