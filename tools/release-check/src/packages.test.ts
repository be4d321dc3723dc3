// What every published package ships and claims, checked against the repository: the licence
// text, links that work on npm, a first version that changesets make, and `engines` that the
// test matrix proves — the main run on the Node of the root `engines` (scripts/test.sh) and the
// second run on Node 20 (scripts/test-node20.mjs) for the packages it lists.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { node20PackageNames } from '../../../scripts/test-node20.mjs';

const root = new URL('../../../', import.meta.url).pathname;

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  license?: string;
  files?: string[];
  engines?: { node?: string };
  repository?: { type?: string; url?: string; directory?: string };
  homepage?: string;
  bugs?: { url?: string };
}

function manifest(directory: string): Manifest {
  return JSON.parse(readFileSync(join(root, directory, 'package.json'), 'utf8'));
}

const workspaces = ['packages', 'examples', 'tools']
  .flatMap((group) => readdirSync(join(root, group)).map((name) => `${group}/${name}`))
  .concat('bench')
  .filter((directory) => existsSync(join(root, directory, 'package.json')))
  .map((directory) => ({ directory, manifest: manifest(directory) }));
const published = workspaces.filter(({ manifest }) => !manifest.private);
const rootManifest = manifest('.');
const repositoryUrl = rootManifest.repository?.url ?? '';
const repositoryHome = repositoryUrl.replace(/^git\+/, '').replace(/\.git$/, '');

/** The lowest version a `>=X.Y[.Z]` range admits, as [major, minor, patch]. */
function floor(range: string | undefined): [number, number, number] {
  const match = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range ?? '');
  if (!match) throw new Error(`engines.node "${range}" is not of the form >=X.Y`);
  return [Number(match[1]), Number(match[2] ?? 0), Number(match[3] ?? 0)];
}

function atLeast(version: readonly number[], minimum: readonly number[]): boolean {
  for (let index = 0; index < 3; index++) {
    const a = version[index] ?? 0;
    const b = minimum[index] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

describe('published packages', () => {
  it('are the libraries, the server and the dashboard; the rest is private', () => {
    expect(published.map(({ manifest }) => manifest.name).sort()).toEqual([
      '@arden/ai-sdk',
      '@arden/claude-agent-sdk',
      '@arden/core',
      '@arden/dashboard',
      '@arden/langchain',
      '@arden/mcp',
      '@arden/openai',
      '@arden/openai-agents',
      '@arden/policy',
      '@arden/server',
    ]);
  });

  it('ship the Apache-2.0 licence text of the root LICENSE', () => {
    const licence = readFileSync(join(root, 'LICENSE'), 'utf8');
    expect(licence).toContain('Apache License');
    expect(licence).toContain('Version 2.0, January 2004');
    expect(licence).toContain('END OF TERMS AND CONDITIONS');
    expect(rootManifest.license).toBe('Apache-2.0');
    for (const { directory, manifest } of published) {
      expect(manifest.license, directory).toBe('Apache-2.0');
      expect(readFileSync(join(root, directory, 'LICENSE'), 'utf8'), directory).toBe(licence);
      // npm packs LICENSE whatever `files` says; a `files` entry must not exclude it.
      expect(manifest.files ?? [], directory).not.toContain('!LICENSE');
    }
  });

  it('link their folder of the repository, their README and the issue tracker', () => {
    expect(repositoryUrl).toMatch(/^git\+https:\/\/github\.com\/[\w.-]+\/[\w.-]+\.git$/);
    for (const { directory, manifest } of published) {
      expect(manifest.repository, directory).toEqual({
        type: 'git',
        url: repositoryUrl,
        directory,
      });
      expect(manifest.homepage, directory).toBe(`${repositoryHome}/tree/main/${directory}#readme`);
      expect(manifest.bugs, directory).toEqual({ url: `${repositoryHome}/issues` });
      expect(existsSync(join(root, directory, 'README.md')), `${directory}/README.md`).toBe(true);
    }
  });

  it('are versioned by changesets only: 0.0.0 until released, else a version in the changelog', () => {
    for (const { directory, manifest } of published) {
      if (manifest.version === '0.0.0') continue;
      const changelog = join(root, directory, 'CHANGELOG.md');
      const written = existsSync(changelog) ? readFileSync(changelog, 'utf8') : '';
      expect(written, `${directory} ${manifest.version}`).toContain(`## ${manifest.version}`);
    }
    const config = JSON.parse(readFileSync(join(root, '.changeset', 'config.json'), 'utf8'));
    // Examples, bench and tools are private and never versioned.
    expect(config.privatePackages).toEqual({ version: false, tag: false });
    expect(config.ignore).toEqual(expect.arrayContaining(['@arden/bench', '@arden/example-*']));
  });
});

describe('engines against the test matrix', () => {
  const mainFloor = floor(rootManifest.engines?.node);

  it('every published package states engines.node as >=X.Y', () => {
    for (const { directory, manifest } of published) {
      expect(() => floor(manifest.engines?.node), directory).not.toThrow();
    }
  });

  it('a package claims Node 20 exactly when its suite runs on Node 20, all with one floor', () => {
    const claimsNode20 = published
      .filter(({ manifest }) => floor(manifest.engines?.node)[0] === 20)
      .map(({ directory }) => directory.replace(/^packages\//, ''))
      .sort();
    expect(claimsNode20).toEqual([...node20PackageNames].sort());
    const floors = new Set(
      published
        .filter(({ manifest }) => floor(manifest.engines?.node)[0] === 20)
        .map(({ manifest }) => manifest.engines?.node),
    );
    expect([...floors]).toHaveLength(1);
  });

  it('the packages not run on Node 20 claim no less than the Node of the main run', () => {
    for (const { directory, manifest } of published) {
      const claimed = floor(manifest.engines?.node);
      if (claimed[0] === 20) continue;
      // A floor between the two runs (say 22.13) would claim a Node no suite runs on.
      expect(atLeast(claimed, mainFloor), `${directory}: ${manifest.engines?.node}`).toBe(true);
      expect(claimed[0], directory).toBe(mainFloor[0]);
    }
  });

  it('the Node 20 of the second run satisfies every Node 20 claim', () => {
    const binary = process.env.ARDEN_NODE20 ?? '/usr/bin/node';
    const answer = spawnSync(binary, ['--version'], { encoding: 'utf8' });
    // scripts/test-node20.mjs fails without a Node 20, so CI always has one to compare.
    expect(answer.status, `${binary} --version`).toBe(0);
    const version = answer.stdout.trim().replace(/^v/, '').split('.').map(Number);
    expect(version[0]).toBe(20);
    for (const { directory, manifest } of published) {
      const claimed = floor(manifest.engines?.node);
      if (claimed[0] !== 20) continue;
      expect(atLeast(version, claimed), `${directory}: ${manifest.engines?.node}`).toBe(true);
    }
  });
});
