import { describe, expect, it } from 'vitest';
import { clearSession, getSession, setSession, withSession } from './session';

const tick = () => new Promise((resolve) => setTimeout(resolve, Math.random() * 5));

describe('sessions', () => {
  it('1 000 concurrent withSession tasks never see each other', async () => {
    const mismatches: string[] = [];
    await Promise.all(
      Array.from({ length: 1000 }, (_, index) =>
        withSession(`session-${index}`, async () => {
          for (let step = 0; step < 3; step++) {
            await tick();
            if (getSession() !== `session-${index}`) mismatches.push(`${index}:${getSession()}`);
          }
        }),
      ),
    );
    expect(mismatches).toEqual([]);
    expect(getSession()).toBeUndefined();
  });

  it('setSession is scoped to the async context that called it', async () => {
    const seen = await Promise.all(
      ['a', 'b', 'c'].map(async (id) => {
        await tick();
        setSession(id);
        await tick();
        return getSession();
      }),
    );
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(getSession()).toBeUndefined();
  });

  it('clearSession clears, withSession restores the outer session', async () => {
    await withSession('outer', async () => {
      await withSession('inner', async () => {
        expect(getSession()).toBe('inner');
      });
      expect(getSession()).toBe('outer');
      clearSession();
      expect(getSession()).toBeUndefined();
    });
  });

  it('shares one storage between copies through a registered symbol', () => {
    const holder = (globalThis as Record<symbol, { storage: unknown }>)[
      Symbol.for('arden.session.storage')
    ];
    expect(holder?.storage).toBeDefined();
  });

  it('refuses empty ids', () => {
    expect(() => setSession('')).toThrow(TypeError);
    expect(() => withSession('', () => 1)).toThrow(TypeError);
  });
});
