import { describe, expect, it } from 'vitest';
import { clearSession, getSession, setSession, withSession } from './session';

// The scope of each session call, as docs/core.md ("Sessions") describes it.
describe('session scope', () => {
  it('setSession in a called function stays set in the caller; withSession keeps it inside', async () => {
    await withSession('outer', async () => {
      async function handle(id: string) {
        setSession(id);
        await Promise.resolve();
      }
      await handle('request-1');
      expect(getSession()).toBe('request-1');
      await withSession('request-2', async () => {
        setSession('inner');
        expect(getSession()).toBe('inner');
      });
      expect(getSession()).toBe('request-1');
      clearSession();
      expect(getSession()).toBeUndefined();
    });
  });
});
