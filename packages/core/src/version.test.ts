import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { version } from './version';

const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

describe('version', () => {
  it('is the version in package.json, in the source', () => {
    expect(version).toBe(manifest.version);
  });

  it('is the version in package.json in both published builds', async () => {
    const esm = await import(/* @vite-ignore */ new URL('../dist/index.js', import.meta.url).href);
    const cjs = createRequire(import.meta.url)('../dist/index.cjs');
    expect(esm.version).toBe(manifest.version);
    expect(cjs.version).toBe(manifest.version);
    // The builds hold the value itself, not a lookup of package.json at run time.
    const built = readFileSync(new URL('../dist/index.js', import.meta.url), 'utf8');
    expect(built).toContain(JSON.stringify(manifest.version));
    expect(built).not.toContain('__ARDEN_VERSION__');
  });
});
