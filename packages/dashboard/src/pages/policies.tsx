import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../api/client';
import { queries, queryKeys } from '../api/queries';
import type { Effect, Environment } from '../api/types';
import { effects, environments } from '../api/types';
import { PageHeader } from '../components/layout';
import { Empty, ErrorNotice, Loading } from '../components/states';
import { formatTime, words } from '../format';
import { policiesToYaml } from '../policy-yaml';
import { Link, useQueryState } from '../router';
import { useAgents, usePermissions } from '../state';
import { PolicyEditor } from './policies/editor';
import { HistoryView } from './policies/history';
import { RulesView } from './policies/rules-view';

export { DiffView } from './policies/diff-view';
export { PolicyEditor } from './policies/editor';
export { RulesView } from './policies/rules-view';

type Tab = 'rules' | 'editor' | 'yaml' | 'history';

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
  const client = useQueryClient();
  const set = useQuery(queries.policySet(agentId, environment));
  // A save or a rollback makes a new version: the set and its history load again, and so do the
  // MCP page's governing policies.
  const changed = () => {
    void client.invalidateQueries({ queryKey: queryKeys.policySet(agentId, environment) });
    void client.invalidateQueries({ queryKey: queryKeys.mcp });
  };
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
          <ErrorNotice error={set.error} retry={set.refetch} />
        ) : !set.data ? (
          <Loading what="Loading policies" />
        ) : tab === 'rules' ? (
          <RulesView policies={set.data.policies} defaultAction={agent?.default_action} />
        ) : tab === 'editor' ? (
          <PolicyEditor
            agentId={agentId}
            environment={environment}
            saved={set.data}
            onSaved={changed}
          />
        ) : tab === 'yaml' ? (
          <pre className="code code-view" data-testid="policy-yaml">
            {policiesToYaml(set.data.policies)}
          </pre>
        ) : (
          <HistoryView
            agentId={agentId}
            environment={environment}
            canRollback={administer}
            onRolledBack={changed}
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
