import { describe, expect, test } from 'vitest';
import { patchPaths } from './hook';

// Codex's apply_patch parser trims each hunk header ("tolerant of extra padding"), so a header
// with leading or trailing whitespace still adds, updates or deletes its file.
describe('patchPaths reads the headers Codex applies', () => {
  test('headers padded with spaces, tabs or other whitespace', () => {
    const patch = [
      '*** Begin Patch',
      '  *** Add File: /home/dev/.ssh/authorized_keys',
      '+ssh-ed25519 AAAA attacker',
      '\t*** Delete File: .env',
      '\u00a0*** Update File: src/a.ts  ',
      '@@',
      '-a',
      '+b',
      '*** End Patch',
    ].join('\n');
    expect(patchPaths(patch)).toEqual(['/home/dev/.ssh/authorized_keys', '.env', 'src/a.ts']);
  });
});
