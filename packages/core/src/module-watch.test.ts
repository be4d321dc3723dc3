import { afterEach, describe, expect, test } from 'vitest';
import { loadFromPackageCopy, moduleAnnouncement, watchModules } from './module-watch';

const processRecord = process as unknown as Record<string, unknown>;
const getBuiltinModule = processRecord.getBuiltinModule;

afterEach(() => {
  processRecord.getBuiltinModule = getBuiltinModule;
});

describe('watchModules', () => {
  test('says what it cannot watch on a runtime without module hooks', () => {
    processRecord.getBuiltinModule = undefined;
    const gaps = watchModules({
      id: 'test-no-hooks',
      pattern: /never-loaded[\\/]index\.js$/,
      packageName: 'never-loaded',
      subpaths: ['.'],
      from: import.meta.url,
      onModule: () => {},
    });
    expect(gaps).toEqual({ commonjs: true, esm: true });
  });

  test('hands over a CommonJS module loaded after the watch started, as it is evaluated', async () => {
    const { mkdtempSync, writeFileSync, mkdirSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { createRequire } = await import('node:module');
    const directory = mkdtempSync(join(tmpdir(), 'arden-watch-'));
    mkdirSync(join(directory, 'watched-lib'));
    writeFileSync(
      join(directory, 'watched-lib', 'index.cjs'),
      'exports.Tool = class Tool {}; exports.seenByImporter = () => globalThis.__ardenWatchSeen;',
    );
    const seen: string[] = [];
    const gaps = watchModules({
      id: 'test-commonjs',
      pattern: /watched-lib[\\/]index\.cjs$/,
      packageName: 'watched-lib',
      subpaths: ['.'],
      from: import.meta.url,
      onModule: (exports, location) => {
        seen.push(location);
        (globalThis as Record<string, unknown>).__ardenWatchSeen = typeof exports.Tool;
      },
    });
    expect(gaps.commonjs).toBe(false);
    const loaded = createRequire(import.meta.url)(join(directory, 'watched-lib', 'index.cjs'));
    // Handed over before require() returned to the importer.
    expect(loaded.seenByImporter()).toBe('function');
    expect(seen).toEqual([join(directory, 'watched-lib', 'index.cjs')]);
  });
});

describe('moduleAnnouncement', () => {
  test('imports the module itself and hands its namespace to the watch of its id', () => {
    const text = moduleAnnouncement('langchain', 'file:///x/index.js');
    expect(text).toContain('import * as __ardenModule from "file:///x/index.js"');
    expect(text).toContain('("langchain", __ardenModule, import.meta.url)');
  });
});

describe('loadFromPackageCopy', () => {
  test('refuses a location outside the package', async () => {
    await expect(
      loadFromPackageCopy('/tmp/elsewhere.js', '@langchain/core', './messages'),
    ).rejects.toThrow(/Cannot locate the @langchain\/core copy/);
  });
});
