import { useQuery } from '@tanstack/react-query';
import { useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, api } from '../../api/client';
import type { Environment, PolicyDefinition, PolicySet, PolicyVersion } from '../../api/types';
import { mcpToolNamesQuery } from '../../mcp';
import {
  type DraftProblem,
  diffLines,
  locateIssue,
  offsetOf,
  parsePoliciesYaml,
  policiesToYaml,
} from '../../policy-yaml';
import { ConditionInputs } from './condition-inputs';
import { DiffView } from './diff-view';
import { type SimulationRun, SimulationView } from './simulation';

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
  const [simulation, setSimulation] = useState<SimulationRun | undefined>(undefined);
  const [simulating, setSimulating] = useState(false);
  const [simulateSince, setSimulateSince] = useState('30d');
  const [simulateTool, setSimulateTool] = useState('');
  const [simulateSample, setSimulateSample] = useState(0);
  const running = useRef<AbortController | undefined>(undefined);
  const [message, setMessage] = useState('');
  const [saving, setSaving] = useState(false);
  const [status, setStatus] = useState<string | undefined>(undefined);
  const textarea = useRef<HTMLTextAreaElement>(null);
  // The MCP tools the gateways discovered: offered as tool names (a failed load offers none).
  const mcpTools = useQuery(mcpToolNamesQuery(agentId, environment)).data ?? [];
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
    running.current?.abort();
    const controller = new AbortController();
    running.current = controller;
    setSimulating(true);
    setStatus(undefined);
    let run: SimulationRun = { counts: undefined, flips: [], done: false };
    setSimulation(run);
    // Flips arrive by the hundred: the view is redrawn once per frame at most.
    let scheduled = false;
    const show = () => {
      if (scheduled) return;
      scheduled = true;
      requestAnimationFrame(() => {
        scheduled = false;
        if (running.current === controller) setSimulation(run);
      });
    };
    try {
      const counts = await api.simulateHistory(
        agentId,
        environment,
        {
          policies: parsed,
          since: simulateSince,
          tool: simulateTool.trim() || undefined,
          sample: simulateSample > 0 ? simulateSample : undefined,
        },
        {
          onProgress(progress) {
            run = { ...run, counts: progress };
            show();
          },
          onFlip(flip) {
            run = { ...run, flips: [...run.flips, flip] };
            show();
          },
        },
        controller.signal,
      );
      run = { ...run, counts, done: true };
      if (running.current === controller) setSimulation(run);
    } catch (error) {
      if (controller.signal.aborted) return;
      setSimulation(undefined);
      setStatus(error instanceof Error ? error.message : String(error));
    } finally {
      if (running.current === controller) setSimulating(false);
    }
  };

  useEffect(() => () => running.current?.abort(), []);

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
      <ConditionInputs
        tools={mcpTools}
        onInsert={(snippet) => {
          const element = textarea.current;
          const start = element?.selectionStart ?? draft.length;
          const end = element?.selectionEnd ?? draft.length;
          setDraft(`${draft.slice(0, start)}${snippet}${draft.slice(end)}`);
          requestAnimationFrame(() => {
            element?.focus();
            element?.setSelectionRange(start + snippet.length, start + snippet.length);
          });
        }}
      />
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
          <span>Replay</span>
          <select value={simulateSince} onChange={(event) => setSimulateSince(event.target.value)}>
            {[
              ['24h', 'the last 24 hours'],
              ['7d', 'the last 7 days'],
              ['30d', 'the last 30 days'],
              ['90d', 'the last 90 days'],
              ['all', 'the whole log'],
            ].map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label className="field field-inline">
          <span>Tool</span>
          <input
            type="text"
            value={simulateTool}
            placeholder="all tools (or stripe.*)"
            list="policy-tool-names"
            onChange={(event) => setSimulateTool(event.target.value)}
          />
          <datalist id="policy-tool-names">
            {mcpTools.map((tool) => (
              <option key={tool} value={tool} />
            ))}
          </datalist>
        </label>
        <label className="field field-inline">
          <span>Calls</span>
          <select
            value={simulateSample}
            onChange={(event) => setSimulateSample(Number(event.target.value))}
          >
            <option value={0}>every call</option>
            {[1_000, 10_000, 100_000].map((sample) => (
              <option key={sample} value={sample}>
                a sample of {sample.toLocaleString('en-US')}
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
