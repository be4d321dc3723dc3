import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `bash scripts/start.sh` runs `pnpm install` before anything is built. The `arden` bin must be a
// file that exists then (a committed shim, not dist/cli.js), or pnpm warns "Failed to create bin"
// once for every workspace package that depends on @arden/server.
const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const repositoryRoot = join(packageRoot, '..', '..');

describe('the arden bin in a fresh checkout', () => {
  let copy: string;
  let install: { status: number | null; output: string };

  beforeAll(() => {
    copy = mkdtempSync(join(tmpdir(), 'arden-install-'));
    // The repository's files as a fresh clone has them: tracked and new, nothing ignored (no
    // node_modules, no dist).
    const files = execFileSync(
      'git',
      ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
      {
        cwd: repositoryRoot,
        maxBuffer: 64 * 1024 * 1024,
      },
    )
      .toString()
      .split('\0')
      .filter((file) => file !== '' && existsSync(join(repositoryRoot, file)));
    for (const file of files) {
      mkdirSync(dirname(join(copy, file)), { recursive: true });
      cpSync(join(repositoryRoot, file), join(copy, file));
    }
    const result = spawnSync(
      'pnpm',
      [
        'install',
        '--frozen-lockfile',
        '--prefer-offline',
        '--ignore-scripts',
        '--reporter=append-only',
      ],
      { cwd: copy, encoding: 'utf8', timeout: 120_000, env: { ...process.env, CI: '1' } },
    );
    install = {
      status: result.status,
      output: `${result.stdout}${result.stderr}${result.error ?? ''}`,
    };
  }, 180_000);

  afterAll(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it('pnpm install links it without a warning', () => {
    expect(install.status, install.output).toBe(0);
    expect(existsSync(join(copy, 'packages', 'server', 'dist'))).toBe(false);
    expect(install.output).not.toMatch(/Failed to create bin/);
    const linked = join(copy, 'bench', 'node_modules', '.bin', 'arden');
    expect(existsSync(linked)).toBe(true);
  });

  it('says to build first when run before the build', () => {
    const result = spawnSync(
      process.execPath,
      [join(copy, 'packages', 'server', 'bin', 'arden.js'), '--version'],
      {
        encoding: 'utf8',
      },
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/arden is not built yet .*Run `pnpm build`/);
  });

  it('is executable and runs the built CLI', () => {
    const bin = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')).bin.arden;
    const shim = join(packageRoot, bin);
    expect(statSync(shim).mode & 0o111).not.toBe(0);
    expect(readFileSync(shim, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    const version = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')).version;
    expect(execFileSync(process.execPath, [shim, '--version']).toString()).toBe(`${version}\n`);
  });
});
