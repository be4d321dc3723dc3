import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  PolicyCompileError,
  type PolicyFile,
  PolicyFileError,
  parsePolicyFile,
  runPolicyTests,
  shellParserSettled,
} from '@arden/policy';
import { environmentOption, type Parsed, parse, required, text } from '../args';
import { clientFor, connectionOptions } from '../client';
import { CliError, type CliIo, exitCodes, UsageError } from '../io';
import { simulateCommand } from './simulate';

const help = `Usage:
  arden policies test -f FILE [-f FILE…] [--verbose]
  arden policies apply -f FILE --agent NAME [--env test|live] [--message TEXT] [--skip-tests]
  arden policies diff -f FILE --agent NAME [--env test|live] [--exit-code]
  arden policies get --agent NAME [--env test|live]
  arden policies simulate -f FILE --agent NAME [--env test|live] [--since 30d|all] [--tool T]
                          [--sample N] [--fail-on KIND[,KIND…]]

FILE is a policies.yaml: \`policies:\` (name, tool, action or rules/default, timeout,
on_timeout), optional \`settings.default_action\`, \`tests: [{tool, args, expect}]\` and
\`simulation: {forbid: [allow->block, …]}\` (read by simulate only).

test   runs the file's test cases locally (no server). Exit 0 when all pass, 1 when a case
       fails, 3 when the file does not parse or a policy does not compile; every problem is
       printed as file:line (and column).
apply  checks the file and runs its tests, then saves the policies as a new version of the
       agent's set (--env defaults to test). Nothing changes when they are already current.
diff   shows what apply would change. --exit-code exits 1 when there are differences.
get    prints the agent's current policies as JSON.
simulate  replays the agent's logged calls of the window (--since: 30d, 12h, 2w, an ISO time
       or all; default 30d), optionally one --tool (or prefix*) or an even --sample of N, through
       the file's policies and the current ones, and prints the flips by kind against the
       current policies and against the logged decisions, then the first flips. The file's
       \`simulation.forbid\` and --fail-on (added to it) name forbidden flips against the
       current policies (allow->block, allow->held, held->block, block->allow, …; held is
       requires_approval): exit 1 when one happens, so a pull request can gate on it.

apply, diff and get talk to a running server: --url (ARDEN_URL), --token (ARDEN_ADMIN_TOKEN).
`;

const options = {
  ...connectionOptions,
  file: { type: 'string', short: 'f', multiple: true },
  agent: { type: 'string' },
  env: { type: 'string' },
  message: { type: 'string' },
  'skip-tests': { type: 'boolean' },
  'exit-code': { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  since: { type: 'string' },
  tool: { type: 'string' },
  sample: { type: 'string' },
  'fail-on': { type: 'string', multiple: true },
} as const;

function files(parsed: Parsed, command: string): string[] {
  const value = parsed.values.file;
  const list = Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
  if (list.length === 0) {
    throw new UsageError(`arden ${command} needs -f FILE (a policies.yaml).`);
  }
  return list;
}

/** Reads and checks a policy file; a problem is printed as file:line:column and exits 3. */
export function loadPolicyFile(path: string, io: CliIo): PolicyFile {
  let source: string;
  try {
    source = readFileSync(resolve(io.cwd, path), 'utf8');
  } catch (error) {
    throw new CliError(
      `Cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}). Check the path given to -f.`,
      exitCodes.usage,
    );
  }
  try {
    return parsePolicyFile(source, path);
  } catch (error) {
    if (PolicyFileError.isInstance(error)) {
      throw new CliError(
        `${error.message}\n${path}: ${error.issues.length === 1 ? 'a problem' : `${error.issues.length} problems`}; nothing was run or applied.`,
        exitCodes.invalidPolicy,
      );
    }
    throw error;
  }
}

/** Runs the tests of a file; prints failures (and passes with `verbose`); returns the failures. */
function runTests(file: PolicyFile, path: string, io: CliIo, verbose: boolean): number {
  let results: ReturnType<typeof runPolicyTests>;
  try {
    results = runPolicyTests(file, path);
  } catch (error) {
    if (PolicyCompileError.isInstance(error))
      throw new CliError(error.message, exitCodes.invalidPolicy);
    throw error;
  }
  let failed = 0;
  for (const result of results) {
    if (!result.passed) {
      failed++;
      io.stdout(`${result.message}\n`);
    } else if (verbose) io.stdout(`${result.message}\n`);
  }
  return failed;
}

/** `arden policies …` */
export async function policiesCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parse(argv, options, 'policies');
  const sub = parsed.positionals[0];
  if (parsed.values.help || sub === undefined || sub === 'help') {
    io.stdout(help);
    return sub === undefined && !parsed.values.help ? 2 : 0;
  }

  if (sub === 'test') {
    let failed = 0;
    let total = 0;
    let invalid = false;
    for (const path of files(parsed, 'policies test')) {
      let file: PolicyFile;
      try {
        file = loadPolicyFile(path, io);
      } catch (error) {
        if (error instanceof CliError && error.exitCode === exitCodes.invalidPolicy) {
          io.stdout(`${error.message}\n`);
          invalid = true;
          continue;
        }
        throw error;
      }
      if (file.tests.length === 0) {
        io.stdout(`${path}: the policies are valid, but the file has no \`tests:\` to run.\n`);
        continue;
      }
      total += file.tests.length;
      // Parsing compiled the policies; one using shell.commands is loading its parser.
      await shellParserSettled();
      failed += runTests(file, path, io, parsed.values.verbose === true);
    }
    io.stdout(
      `${total - failed} passed, ${failed} failed${invalid ? '; some files are not valid (see above)' : ''}\n`,
    );
    if (invalid) return exitCodes.invalidPolicy;
    return failed > 0 ? exitCodes.failure : exitCodes.ok;
  }

  if (sub === 'simulate') return simulateCommand(parsed, io);

  if (sub === 'apply' || sub === 'diff' || sub === 'get') {
    const agent = required(parsed, 'agent', `policies ${sub}`);
    const environment = environmentOption(parsed, 'test');
    const client = clientFor(io, { url: text(parsed, 'url'), token: text(parsed, 'token') });
    const base = `/api/v1/agents/${encodeURIComponent(agent)}/policies/${environment}`;
    if (sub === 'get') {
      const current = await client.request('GET', base);
      io.stdout(`${JSON.stringify(parsed.values.json ? current : current.policies, null, 2)}\n`);
      return 0;
    }
    const [path] = files(parsed, `policies ${sub}`);
    const file = loadPolicyFile(path as string, io);
    const diff = await client.request('POST', `${base}/diff`, { policies: file.policies });
    if (sub === 'diff') {
      if (parsed.values.json) io.stdout(`${JSON.stringify(diff, null, 2)}\n`);
      else if (!diff.has_changes) {
        io.stdout(
          `No differences: ${path} matches ${agent}'s ${environment} policies (version ${diff.current_version}).\n`,
        );
      } else {
        io.stdout(
          `Changes from ${agent}'s ${environment} policies (version ${diff.current_version}) to ${path}:\n${diff.text}\n`,
        );
      }
      return parsed.values['exit-code'] && diff.has_changes ? exitCodes.failure : exitCodes.ok;
    }
    if (parsed.values['skip-tests'] !== true && file.tests.length > 0) {
      io.stdout(
        `Running ${file.tests.length} test${file.tests.length === 1 ? '' : 's'} of ${path}…\n`,
      );
      await shellParserSettled();
      const failed = runTests(file, path as string, io, false);
      if (failed > 0) {
        throw new CliError(
          `Not applied: ${failed} test${failed === 1 ? '' : 's'} of ${path} fail${failed === 1 ? 's' : ''}. Fix the policies or the tests (or pass --skip-tests).`,
        );
      }
    }
    if (!diff.has_changes) {
      io.stdout(
        `${agent}'s ${environment} policies are already up to date (version ${diff.current_version}); nothing to apply.\n`,
      );
      return 0;
    }
    const saved = await client.request('PUT', base, {
      policies: file.policies,
      message: text(parsed, 'message') ?? `arden policies apply -f ${path}`,
    });
    if (parsed.values.json) io.stdout(`${JSON.stringify(saved, null, 2)}\n`);
    else {
      io.stdout(
        `Applied ${path} to ${agent} (${environment}): now version ${saved.version} (+${saved.diff.added.length} added, ~${saved.diff.changed.length} changed, -${saved.diff.removed.length} removed).\n${diff.text}\n`,
      );
      const agentRecord = await client.request(
        'GET',
        `/api/v1/agents/${encodeURIComponent(agent)}`,
      );
      if (agentRecord.default_action !== file.settings.default_action) {
        io.stdout(
          `Note: the file's settings.default_action is ${file.settings.default_action}, but ${agent}'s default action is ${agentRecord.default_action} (it applies to tools no policy matches, in both environments). Change it with \`arden agents update ${agent} --default-action ${file.settings.default_action}\`.\n`,
        );
      }
    }
    return 0;
  }
  throw new UsageError(`Unknown command \`arden policies ${sub}\`. See \`arden policies --help\`.`);
}
