import type * as Sqlite from 'node:sqlite';
import { ArdenServerError } from '../errors';

/** The oldest Node.js whose `node:sqlite` works without a flag: what the embedded store needs. */
export const embeddedStoreNodeVersion = '22.13';

/**
 * This Node.js has no `node:sqlite`, so the embedded SQLite store cannot open. The message says
 * which Node.js is needed and how to get it.
 */
export class UnsupportedNodeError extends ArdenServerError {
  constructor(what: string) {
    super(
      500,
      'unsupported_node',
      `${what} needs Node.js ${embeddedStoreNodeVersion} or later (it uses node:sqlite); this is Node.js ${process.version}. Install a current Node.js (for example \`nvm install 24\`, or from https://nodejs.org/en/download) and run it again.`,
    );
  }
}

/**
 * `node:sqlite`, loaded when the embedded store opens rather than when this package is imported:
 * a static import fails the whole module graph on Node.js 20 (ERR_UNKNOWN_BUILTIN_MODULE), which
 * would take down the CLI commands that only talk HTTP to a running server.
 * Throws `UnsupportedNodeError` (naming `what`) where the module does not exist.
 */
export function loadSqlite(what = 'The embedded SQLite store'): typeof Sqlite {
  const sqlite = builtinSqlite();
  if (!sqlite) throw new UnsupportedNodeError(what);
  return sqlite;
}

/** Whether this Node.js has a `node:sqlite` that the embedded store can open. */
export function hasSqlite(): boolean {
  return builtinSqlite() !== undefined;
}

function builtinSqlite(): typeof Sqlite | undefined {
  // `process.getBuiltinModule` exists on Node.js >= 20.16 and >= 22.3; where it is missing,
  // `node:sqlite` is missing too.
  const getBuiltinModule = (process as { getBuiltinModule?: (id: string) => object | undefined })
    .getBuiltinModule;
  const sqlite = getBuiltinModule?.call(process, 'node:sqlite') as typeof Sqlite | undefined;
  return sqlite?.DatabaseSync ? sqlite : undefined;
}
