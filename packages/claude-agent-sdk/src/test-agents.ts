/**
 * Where the coding-agent suite finds the real agents: the native binaries of the Claude Code CLI
 * and of the Claude Agent SDK that `scripts/install-agents.mjs` installs into `agents/` before the
 * suite runs (a normal `pnpm install` leaves them out). Not part of the published package.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const modules = fileURLToPath(new URL('../agents/node_modules/', import.meta.url));

function binary(prefix: string, what: string): string {
  const extension = process.platform === 'win32' ? '.exe' : '';
  const base = `${prefix}-${process.platform}-${process.arch}`;
  const candidates = process.platform === 'linux' ? [base, `${base}-musl`] : [base];
  for (const name of candidates) {
    const path = join(modules, name, `claude${extension}`);
    if (existsSync(path)) return path;
  }
  throw new Error(
    `${what} is not installed for the coding-agent suite (looked for ${candidates.join(' or ')} in ${modules}). Run \`node packages/claude-agent-sdk/scripts/install-agents.mjs\`, or run the suite with \`pnpm --filter @arden/claude-agent-sdk test\`, which installs it first.`,
  );
}

/** The Claude Code CLI (`claude`) of the version pinned in `agents/package.json`. */
export function claudeCodeExecutable(): string {
  return binary('@anthropic-ai/claude-code', 'The Claude Code CLI');
}

/** The Claude Code binary the Agent SDK runs (its `pathToClaudeCodeExecutable`). */
export function agentSdkExecutable(): string {
  return binary('@anthropic-ai/claude-agent-sdk', "The Claude Agent SDK's Claude Code binary");
}
