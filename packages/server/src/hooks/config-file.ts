/**
 * What every `arden hook install|uninstall` shares: a coding agent's configuration file is
 * rewritten whole (by rename) after a backup of the old one, and the change is shown as a diff.
 */
import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** A line diff of two texts (`-` removed, `+` added, two spaces kept), for the terminal. */
export function lineDiff(before: string, after: string): string {
  const a = before === '' ? [] : before.split('\n');
  const b = after === '' ? [] : after.split('\n');
  const lengths = Array.from({ length: a.length + 1 }, () =>
    new Array<number>(b.length + 1).fill(0),
  );
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lengths[i]![j] =
        a[i] === b[j]
          ? lengths[i + 1]![j + 1]! + 1
          : Math.max(lengths[i + 1]![j]!, lengths[i]![j + 1]!);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push(`  ${a[i]}`);
      i++;
      j++;
    } else if (j < b.length && (i === a.length || lengths[i]![j + 1]! >= lengths[i + 1]![j]!)) {
      out.push(`+ ${b[j]}`);
      j++;
    } else {
      out.push(`- ${a[i]}`);
      i++;
    }
  }
  return `${out.join('\n')}\n`;
}

/**
 * Writes `after` to `path`: first a backup `<path>.arden-backup` of the old file (when `before`,
 * its content, is not empty), then the new file through a temporary file and a rename, so that
 * a reader never sees half a file. `after === null` removes the file (an uninstall that leaves
 * nothing). Returns the backup's path, if one was made.
 */
export async function writeWithBackup(
  path: string,
  before: string,
  after: string | null,
): Promise<string | undefined> {
  await mkdir(dirname(path), { recursive: true });
  let backup: string | undefined;
  if (before !== '') {
    backup = `${path}.arden-backup`;
    await copyFile(path, backup);
  }
  if (after === null) {
    await rm(path, { force: true });
    return backup;
  }
  const temporary = `${path}.arden-${process.pid}.tmp`;
  await writeFile(temporary, after);
  await rename(temporary, path);
  return backup;
}
