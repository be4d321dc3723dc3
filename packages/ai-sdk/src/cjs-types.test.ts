import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// A throwaway CommonJS project type-checks against the built package with `module: node16` and
// without `skipLibCheck`: dist/index.d.cts must import `ai`'s (ESM-only) types as ES modules.
const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const repositoryRoot = join(packageRoot, '..', '..');
const tsc = createRequire(join(repositoryRoot, 'package.json')).resolve('typescript/bin/tsc');
const project = mkdtempSync(join(tmpdir(), 'arden-cjs-types-'));

afterAll(() => {
  rmSync(project, { recursive: true, force: true });
});

function link(name: string, target: string) {
  mkdirSync(dirname(join(project, 'node_modules', name)), { recursive: true });
  symlinkSync(target, join(project, 'node_modules', name), 'dir');
}

describe('the CommonJS declarations', () => {
  it.each(['node16', 'nodenext'])('type-check in a CommonJS project (module %s)', (module) => {
    rmSync(join(project, 'node_modules'), { recursive: true, force: true });
    link('@arden/ai-sdk', packageRoot);
    link('@arden/core', join(packageRoot, 'node_modules', '@arden', 'core'));
    link('ai', join(packageRoot, 'node_modules', 'ai'));
    link('@types/node', join(repositoryRoot, 'node_modules', '@types', 'node'));
    writeFileSync(join(project, 'package.json'), '{ "name": "cjs-consumer", "private": true }\n');
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module,
          moduleResolution: module,
          target: 'es2022',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
        },
        files: ['index.ts'],
      }),
    );
    writeFileSync(
      join(project, 'index.ts'),
      [
        "import { ardenToolApproval, ardenUsageMiddleware, guardTools, install } from '@arden/ai-sdk';",
        "import { configure } from '@arden/core';",
        'configure();',
        'install();',
        'export const approval = ardenToolApproval();',
        'export const middleware = ardenUsageMiddleware();',
        'export const tools = guardTools({});',
        '',
      ].join('\n'),
    );
    const result = spawnSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
