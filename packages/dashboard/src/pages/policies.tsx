import { useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, api } from '../api/client';
import type {
  Effect,
  Environment,
  PolicyDefinition,
  PolicySet,
  PolicyVersion,
  Simulation,
} from '../api/types';
import { effects, environments } from '../api/types';
import { PageHeader } from '../components/layout';
import { Badge, Empty, ErrorNotice, Loading } from '../components/states';
import { formatTime, words } from '../format';
import {
  type DiffLine,
  type DraftProblem,
  diffLines,
  locateIssue,
  offsetOf,
  parsePoliciesYaml,
  policiesToYaml,
} from '../policy-yaml';
import { Link, useQueryState } from '../router';
import { useAgents, useAsync, usePermissions } from '../state';

type Tab = 'rules' | 'editor' | 'yaml' | 'history';

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

/** A line diff, added lines green and removed ones red. */
export function DiffView({ lines, label }: { lines: DiffLine[]; label: string }) {
  const changed = lines.some((line) => line.kind !== 'same');
  if (!changed) return <p className="muted">No change.</p>;
  return (
    <pre className="diff" title={label}>
      {lines.map((line, index) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: diff lines are positional.
        <span key={index} className={`diff-line diff-${line.kind}`}>
          {line.kind === 'added' ? '+ ' : line.kind === 'removed' ? '- ' : '  '}
          {line.text}
          {'\n'}
        </span>
      ))}
    </pre>
  );
}

function SimulationView({ simulation }: { simulation: Simulation }) {
  const [onlyChanges, setOnlyChanges] = useState(simulation.changed > 0);
  const items = onlyChanges ? simulation.items.filter((item) => item.changed) : simulation.items;
  return (
    <section className="panel simulation" aria-labelledby="simulation-title">
      <h3 id="simulation-title">Simulation</h3>
      <p role="status">
        {simulation.evaluated === 0
          ? 'No logged call to replay yet in this environment.'
          : `On the last ${simulation.evaluated} calls, the draft decides ${simulation.changed} differently.`}
      </p>
      {simulation.evaluated > 0 ? (
        <label className="checkbox">
          <input
            type="checkbox"
            checked={onlyChanges}
            onChange={(event) => setOnlyChanges(event.target.checked)}
          />{' '}
          Only the calls that change
        </label>
      ) : null}
      {items.length > 0 ? (
        <div className="table-scroll">
          <table className="table table-compact" aria-label="Simulated decisions">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Tool</th>
                <th scope="col">Logged</th>
                <th scope="col">Draft</th>
                <th scope="col">Why (draft)</th>
              </tr>
            </thead>
            <tbody>
              {items.map((item) => (
                <tr key={item.action_id} className={item.changed ? 'row-changed' : undefined}>
                  <td className="nowrap">{formatTime(item.created_at)}</td>
                  <td>
                    <Link to={`/actions/${encodeURIComponent(item.action_id)}`}>
                      <code>{item.tool_name}</code>
                    </Link>
                  </td>
                  <td>
                    <Badge value={item.old.decision} />
                  </td>
                  <td>
                    {item.changed ? <span className="visually-hidden">changed to </span> : null}
                    <Badge value={item.new.decision} />
                  </td>
                  <td className="small">{item.new.explanation ?? words(item.new.reason ?? '')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

/** The YAML editor: validation as you type, simulation, diff and save. */
export function PolicyEditor({
  agentId,
  environment,
  saved,
  onSaved,
}: {
  agentId: string;
  environment: Environment;
  saved: PolicySet;
  onSaved: (version: PolicyVersion) => void;
}) {
  const savedText = useMemo(() => policiesToYaml(saved.policies), [saved.policies]);
  const [draft, setDraft] = useState(savedText);
  const [problems, setProblems] = useState<DraftProblem[]>([]);
  const [checking, setChecking] = useState(false);
  const [checkError, setCheckError] = useState<string | undefined>(undefined);
  const [parsed, setParsed] = useState<PolicyDefinition[] | undefined>(saved.policies);
  const [simulation, setSimulation] = useState<Simulation | undefined>(undefined);
  const [simulating, setSimulating] = useState(false);
  const [simulateLimit, setSimulateLimit] = useState(100);
  const [message, setMessage] = useState('');
  const [saving, setSaving] = useState(false);
  const [status, setStatus] = useState<string | undefined>(undefined);
  const textarea = useRef<HTMLTextAreaElement>(null);
  const gutter = useRef<HTMLPreElement>(null);

  useEffect(() => {
    setDraft(savedText);
    setSimulation(undefined);
  }, [savedText]);

  // Validate as you type: YAML at once, then the server's full check after a pause.
  useEffect(() => {
    const result = parsePoliciesYaml(draft);
    setSimulation(undefined);
    if (!result.policies) {
      setProblems(result.problems);
      setParsed(undefined);
      setChecking(false);
      return;
    }
    setParsed(result.policies);
    const policies = result.policies;
    const controller = new AbortController();
    setChecking(true);
    const timer = setTimeout(() => {
      api.validatePolicies(agentId, environment, policies, controller.signal).then(
        (validation) => {
          setProblems(validation.issues.map((issue) => locateIssue(draft, issue, policies)));
          setCheckError(undefined);
          setChecking(false);
        },
        (error: unknown) => {
          if (controller.signal.aborted) return;
          setCheckError(error instanceof Error ? error.message : String(error));
          setChecking(false);
        },
      );
    }, 350);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [draft, agentId, environment]);

  const dirty = draft !== savedText;
  const valid = parsed !== undefined && problems.length === 0 && !checking && !checkError;
  const lineCount = draft.split('\n').length;
  const lineNumbers = useMemo(
    () => Array.from({ length: lineCount }, (_, index) => index + 1),
    [lineCount],
  );
  const problemLines = new Set(problems.map((problem) => problem.line));

  const goTo = (problem: DraftProblem) => {
    const element = textarea.current;
    if (!element || problem.line === undefined) return;
    const offset = offsetOf(draft, { line: problem.line, column: problem.column ?? 1 });
    element.focus();
    element.setSelectionRange(offset, offset + 1);
  };

  const simulate = async () => {
    if (!parsed) return;
    setSimulating(true);
    setStatus(undefined);
    try {
      setSimulation(await api.simulatePolicies(agentId, environment, parsed, simulateLimit));
    } catch (error) {
      setStatus(error instanceof Error ? error.message : String(error));
    } finally {
      setSimulating(false);
    }
  };

  const save = async () => {
    if (!parsed) return;
    setSaving(true);
    setStatus(undefined);
    try {
      const version = await api.savePolicySet(agentId, environment, parsed, message.trim() || null);
      setMessage('');
      setStatus(`Saved as version ${version.version}. New calls are decided by it now.`);
      onSaved(version);
    } catch (error) {
      if (error instanceof ApiError && error.issues) {
        setProblems(error.issues.map((issue) => locateIssue(draft, issue, parsed)));
      }
      setStatus(error instanceof Error ? error.message : String(error));
    } finally {
      setSaving(false);
    }
  };

  const diff = useMemo(() => diffLines(savedText, draft), [savedText, draft]);

  return (
    <div className="editor">
      <div className="editor-status" role="status" aria-live="polite">
        {parsed === undefined ? (
          <span className="status-bad">YAML error</span>
        ) : checking ? (
          <span className="muted">Checking…</span>
        ) : checkError ? (
          <span className="status-bad">Could not check: {checkError}</span>
        ) : problems.length > 0 ? (
          <span className="status-bad">
            {problems.length} {problems.length === 1 ? 'problem' : 'problems'}
          </span>
        ) : (
          <span className="status-good">
            Valid — {parsed.length} {parsed.length === 1 ? 'policy' : 'policies'}
          </span>
        )}
        {dirty ? <span className="muted"> · unsaved changes</span> : null}
      </div>
      <div className="code-editor">
        <pre className="gutter" ref={gutter} aria-hidden="true">
          {lineNumbers.map((number) => (
            <span
              key={number}
              className={problemLines.has(number) ? 'gutter-line gutter-error' : 'gutter-line'}
            >
              {number}
            </span>
          ))}
        </pre>
        <textarea
          ref={textarea}
          className="code"
          aria-label="Policies (YAML)"
          aria-invalid={problems.length > 0}
          aria-describedby="policy-problems"
          spellCheck={false}
          autoCapitalize="off"
          autoCorrect="off"
          value={draft}
          rows={Math.min(30, Math.max(12, lineCount + 1))}
          onChange={(event) => setDraft(event.target.value)}
          onScroll={(event) => {
            if (gutter.current) gutter.current.scrollTop = event.currentTarget.scrollTop;
          }}
          onKeyDown={(event) => {
            // Tab indents (two spaces) instead of leaving the editor; Esc then Tab leaves.
            if (event.key === 'Tab' && !event.shiftKey && !event.altKey && !event.ctrlKey) {
              const element = event.currentTarget;
              if (element.dataset.escaped === 'true') return;
              event.preventDefault();
              const start = element.selectionStart;
              const next = `${draft.slice(0, start)}  ${draft.slice(element.selectionEnd)}`;
              setDraft(next);
              requestAnimationFrame(() => element.setSelectionRange(start + 2, start + 2));
            }
            event.currentTarget.dataset.escaped = event.key === 'Escape' ? 'true' : 'false';
          }}
        />
      </div>
      <p className="hint">
        Tab indents; press Esc then Tab to leave the editor. Conditions are CEL, for example{' '}
        <code>args.amount &lt;= 50</code>. See docs/policies.md.
      </p>
      <ul className="problems" id="policy-problems" aria-label="Problems">
        {problems.map((problem, index) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: problems are positional.
          <li key={index}>
            {problem.line !== undefined ? (
              <button type="button" className="link-button" onClick={() => goTo(problem)}>
                Line {problem.line}, column {problem.column ?? 1}
              </button>
            ) : null}
            {problem.where ? <span className="muted"> ({problem.where})</span> : null}:{' '}
            {problem.message}
          </li>
        ))}
      </ul>
      <div className="editor-actions">
        <label className="field field-inline">
          <span>Replay the last</span>
          <select
            value={simulateLimit}
            onChange={(event) => setSimulateLimit(Number(event.target.value))}
          >
            {[50, 100, 500, 1000, 5000].map((limit) => (
              <option key={limit} value={limit}>
                {limit} calls
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          className="button"
          onClick={() => void simulate()}
          disabled={!valid || simulating}
        >
          {simulating ? 'Simulating…' : 'Simulate'}
        </button>
        <button
          type="button"
          className="button button-quiet"
          onClick={() => setDraft(savedText)}
          disabled={!dirty}
        >
          Discard changes
        </button>
      </div>
      {simulation ? <SimulationView simulation={simulation} /> : null}
      {dirty ? (
        <section className="panel" aria-labelledby="draft-diff-title">
          <h3 id="draft-diff-title">Changes against version {saved.version}</h3>
          <DiffView lines={diff} label="Changes in the draft" />
        </section>
      ) : null}
      <div className="save-row">
        <label className="field field-grow">
          <span>What changed and why (kept in the history)</span>
          <input
            type="text"
            value={message}
            maxLength={2000}
            onChange={(event) => setMessage(event.target.value)}
          />
        </label>
        <button
          type="button"
          className="button button-primary"
          onClick={() => void save()}
          disabled={!valid || !dirty || saving}
        >
          {saving ? 'Saving…' : 'Save as a new version'}
        </button>
      </div>
      {status ? (
        <p className="notice" role="status">
          {status}
        </p>
      ) : null}
    </div>
  );
}

function HistoryView({
  agentId,
  environment,
  generation,
  canRollback,
  onRolledBack,
}: {
  agentId: string;
  environment: Environment;
  generation: number;
  canRollback: boolean;
  onRolledBack: (version: PolicyVersion) => void;
}) {
  const state = useAsync(
    () => api.policyVersions(agentId, environment),
    [agentId, environment, generation],
  );
  const [selected, setSelected] = useState<number | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  if (state.error && !state.data) return <ErrorNotice error={state.error} retry={state.reload} />;
  if (!state.data) return <Loading what="Loading versions" />;
  const versions = state.data.items;
  if (versions.length === 0) {
    return (
      <Empty title="No version saved yet.">
        Every save is kept here, with who, when and what changed.
      </Empty>
    );
  }
  const current = versions.find((version) => version.version === selected) ?? versions[0]!;
  const index = versions.indexOf(current);
  const previous = versions[index + 1];
  const rollback = async (version: number) => {
    setError(undefined);
    try {
      onRolledBack(await api.rollbackPolicies(agentId, environment, version));
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    }
  };
  return (
    <div className="history">
      <ol className="versions" aria-label="Versions">
        {versions.map((version) => (
          <li key={version.version}>
            <button
              type="button"
              className={`version${version === current ? ' version-selected' : ''}`}
              aria-pressed={version === current}
              onClick={() => setSelected(version.version)}
            >
              <strong>v{version.version}</strong> {formatTime(version.created_at)}
              <span className="muted"> by {version.created_by_email ?? 'the CLI or system'}</span>
              {version.message ? <span className="version-message">{version.message}</span> : null}
              <span className="version-summary">
                {[
                  version.diff.added.length ? `+${version.diff.added.join(', +')}` : '',
                  version.diff.removed.length ? `−${version.diff.removed.join(', −')}` : '',
                  version.diff.changed.length ? `~${version.diff.changed.join(', ~')}` : '',
                ]
                  .filter(Boolean)
                  .join('  ') || 'no change'}
              </span>
            </button>
          </li>
        ))}
      </ol>
      <section className="panel" aria-labelledby="version-diff-title">
        <h3 id="version-diff-title">
          Version {current.version}
          {previous ? ` against version ${previous.version}` : ''}
        </h3>
        <DiffView
          label={`Changes in version ${current.version}`}
          lines={diffLines(
            previous
              ? policiesToYaml(previous.policies)
              : current.version === 1
                ? 'policies: []\n'
                : '',
            policiesToYaml(current.policies),
          )}
        />
        {canRollback && index > 0 ? (
          <button type="button" className="button" onClick={() => void rollback(current.version)}>
            Restore version {current.version} (as a new version)
          </button>
        ) : null}
        {error ? (
          <p className="form-error" role="alert">
            {error}
          </p>
        ) : null}
      </section>
    </div>
  );
}

/** Policies per agent and environment: rules, the editor, YAML and history. */
export function PoliciesPage() {
  const [query, setQuery] = useQueryState();
  const agents = useAgents();
  const { administer } = usePermissions();
  const agentId = query.get('agent') ?? agents.agents[0]?.id ?? '';
  const environment = (query.get('environment') === 'live' ? 'live' : 'test') as Environment;
  const requested = (query.get('tab') ?? 'rules') as Tab;
  const tabs: { id: Tab; label: string }[] = [
    { id: 'rules', label: 'Rules' },
    ...(administer ? [{ id: 'editor' as Tab, label: 'Edit and simulate' }] : []),
    { id: 'yaml', label: 'YAML' },
    { id: 'history', label: 'History' },
  ];
  const tab = tabs.some((item) => item.id === requested) ? requested : 'rules';
  const [generation, setGeneration] = useState(0);
  const set = useAsync(
    () => (agentId ? api.policySet(agentId, environment) : Promise.resolve(undefined)),
    [agentId, environment, generation],
  );
  const agent = agents.agents.find((item) => item.id === agentId);

  if (agents.loading && agents.agents.length === 0) return <Loading what="Loading agents" />;
  if (agents.agents.length === 0) {
    return (
      <>
        <PageHeader title="Policies" />
        <Empty title="No agent yet.">
          <p>
            Policies belong to an agent and an environment.{' '}
            <Link to="/agents">Create an agent</Link> first.
          </p>
        </Empty>
      </>
    );
  }

  return (
    <>
      <PageHeader title="Policies">
        <p>
          Which tool calls run, which are blocked, and which wait for a human — per agent and
          environment. {administer ? '' : 'Only admins can change them.'}
        </p>
      </PageHeader>
      <div className="filters">
        <label className="field field-inline">
          <span>Agent</span>
          <select value={agentId} onChange={(event) => setQuery({ agent: event.target.value })}>
            {agents.agents.map((item) => (
              <option key={item.id} value={item.id}>
                {item.name}
              </option>
            ))}
          </select>
        </label>
        <fieldset className="segmented">
          <legend>Environment</legend>
          {environments.map((item) => (
            <label key={item}>
              <input
                type="radio"
                name="environment"
                value={item}
                checked={environment === item}
                onChange={() => setQuery({ environment: item })}
              />
              <span>{item}</span>
            </label>
          ))}
        </fieldset>
        {set.data ? (
          <span className="muted">
            {set.data.version === 0
              ? 'Never saved'
              : `Version ${set.data.version}, saved ${formatTime(set.data.updated_at)}`}
          </span>
        ) : null}
      </div>
      <div role="tablist" aria-label="Policy views" className="tabs">
        {tabs.map((item) => (
          <button
            key={item.id}
            type="button"
            role="tab"
            id={`tab-${item.id}`}
            aria-selected={tab === item.id}
            aria-controls="policy-panel"
            className="tab"
            onClick={() => setQuery({ tab: item.id === 'rules' ? undefined : item.id })}
          >
            {item.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id="policy-panel" aria-labelledby={`tab-${tab}`} className="tab-panel">
        {set.error && !set.data ? (
          <ErrorNotice error={set.error} retry={set.reload} />
        ) : !set.data ? (
          <Loading what="Loading policies" />
        ) : tab === 'rules' ? (
          <RulesView policies={set.data.policies} defaultAction={agent?.default_action} />
        ) : tab === 'editor' ? (
          <PolicyEditor
            agentId={agentId}
            environment={environment}
            saved={set.data}
            onSaved={() => setGeneration((value) => value + 1)}
          />
        ) : tab === 'yaml' ? (
          <pre className="code code-view" data-testid="policy-yaml">
            {policiesToYaml(set.data.policies)}
          </pre>
        ) : (
          <HistoryView
            agentId={agentId}
            environment={environment}
            generation={generation}
            canRollback={administer}
            onRolledBack={() => setGeneration((value) => value + 1)}
          />
        )}
      </div>
      {administer && agent ? (
        <DefaultAction agentId={agent.id} value={agent.default_action} />
      ) : null}
    </>
  );
}

function DefaultAction({ agentId, value }: { agentId: string; value: Effect }) {
  const agents = useAgents();
  const [error, setError] = useState<string | undefined>(undefined);
  return (
    <div className="default-action">
      <label className="field field-inline">
        <span>Default for tools no policy matches (both environments)</span>
        <select
          value={value}
          onChange={async (event) => {
            setError(undefined);
            try {
              await api.updateAgent(agentId, { default_action: event.target.value as Effect });
              agents.reload();
            } catch (failure) {
              setError(failure instanceof Error ? failure.message : String(failure));
            }
          }}
        >
          {effects.map((effect) => (
            <option key={effect} value={effect}>
              {words(effect)}
            </option>
          ))}
        </select>
      </label>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </div>
  );
}
