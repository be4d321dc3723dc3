// Installs what the coding-agent suite of this package runs: the native binaries of the Claude
// Code CLI and of the Claude Agent SDK (about 800 MB for one platform), pinned in
// agents/package.json and its own lockfile. A normal `pnpm install` of the repository leaves
// them out (root package.json: pnpm.ignoredOptionalDependencies), so only this suite pays for
// them. pnpm installs only the binary of this platform (each package declares os, cpu and libc)
// from its store: after the first run, offline. Exits non-zero, saying why, when it cannot.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const agents = fileURLToPath(new URL('../agents/', import.meta.url));
const frozen = existsSync(new URL('../agents/pnpm-lock.yaml', import.meta.url));
const args = [
  'install',
  '--ignore-workspace',
  '--prefer-offline',
  '--reporter=append-only',
  ...(frozen ? ['--frozen-lockfile'] : []),
];
// A pnpm install was once seen to stall for minutes with no connection open and nothing
// downloaded (and to finish in 20 s when run again): each attempt gets a time limit, and a
// stalled or failed one is tried again, twice at most. (The stall that was seen in CI had a cause:
// turbo runs tasks with a strict environment, and without NODE_EXTRA_CA_CERTS or SSL_CERT_FILE
// a registry behind a TLS-inspecting proxy fails with "self-signed certificate in certificate
// chain" and pnpm retries quietly; turbo.json passes those variables through.)
const attemptMs = 300_000;
const attempts = 3;
const started = Date.now();
let result;
for (let attempt = 1; attempt <= attempts; attempt++) {
  result = spawnSync('pnpm', args, {
    cwd: agents,
    stdio: 'inherit',
    shell: process.platform === 'win32',
    timeout: attemptMs,
    killSignal: 'SIGKILL',
  });
  if (result.status === 0) break;
  if (attempt < attempts) {
    process.stderr.write(
      `pnpm install of the coding-agent binaries ${result.signal ? `did not finish in ${attemptMs / 1000} s` : `exited with ${result.status}`}; trying again (${attempt + 1} of ${attempts}).\n`,
    );
  }
}
if (result.status !== 0) {
  process.stderr.write(
    `Could not install the Claude Code and Agent SDK binaries for the coding-agent suite (pnpm ${args.join(' ')} in ${agents} ${result.error ? `failed: ${result.error.message}` : `exited with ${result.status}`}). The suite needs them; run that command and look at its errors.\n`,
  );
  process.exit(1);
}
process.stdout.write(
  `Claude Code and Agent SDK binaries ready in ${((Date.now() - started) / 1000).toFixed(1)} s.\n`,
);
