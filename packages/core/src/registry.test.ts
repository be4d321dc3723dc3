import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigurationError } from './errors';
import {
  configure,
  getArden,
  guardTool,
  logTokenUsage,
  registerAdapter,
  uninstallAdapters,
} from './index';
import { registry } from './registry';
import { createTestArden } from './test/index';

afterEach(async () => {
  uninstallAdapters();
  await registry().defaultInstance?.shutdown();
  registry().defaultInstance = undefined;
  registry().adapters.clear();
});

describe('default instance and adapters', () => {
  it('asks for configure() before use', async () => {
    expect(() => getArden()).toThrow(ConfigurationError);
    const tool = guardTool('t', async () => 1);
    await expect(tool()).rejects.toThrow(/configure\(\)/);
    expect(() => logTokenUsage({ model: 'm', promptTokens: 1, completionTokens: 1 })).not.toThrow();
  });

  it('resolves the instance at call time, so guardTool may come before configure()', async () => {
    const tool = guardTool('t', async () => 'ran');
    const server = createTestArden();
    configure(server.options());
    await expect(tool()).resolves.toBe('ran');
    expect(server.checks).toHaveLength(1);
  });

  it('installs adapters registered before and after configure(), once each', () => {
    const early = vi.fn(() => undefined);
    const late = vi.fn((_getInstance: () => unknown) => undefined);
    registerAdapter({ name: 'early', install: early });
    expect(early).not.toHaveBeenCalled();
    const server = createTestArden();
    configure(server.options());
    configure(server.options());
    expect(early).toHaveBeenCalledTimes(1);
    registerAdapter({ name: 'late', install: late });
    expect(late).toHaveBeenCalledTimes(1);
    // The adapter reaches whatever instance is the default when it runs.
    const getInstance = late.mock.calls[0]?.[0] as () => unknown;
    expect(getInstance()).toBe(getArden());
  });

  it('undoes patches on uninstall', () => {
    const undo = vi.fn();
    registerAdapter({ name: 'undoable', install: () => undo });
    configure(createTestArden().options());
    uninstallAdapters();
    expect(undo).toHaveBeenCalledTimes(1);
  });
});
