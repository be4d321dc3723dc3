/** Where Arden writes its diagnostics. Pass your own to `configure({ logger })`. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** How much the default logger writes; `'silent'` writes nothing. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/**
 * The default logger: writes at or above `level` to the console with an `[arden]` prefix.
 * It never receives keys or signing secrets: callers log identifiers, not credentials.
 */
export function createConsoleLogger(level: LogLevel = 'warn'): Logger {
  const threshold = order[level];
  const write =
    (at: Exclude<LogLevel, 'silent'>) => (message: string, fields?: Record<string, unknown>) => {
      if (order[at] < threshold) return;
      // The one place library code writes to the console; users silence or replace it.
      const sink = globalThis.console;
      const method = at === 'debug' ? 'debug' : at === 'info' ? 'info' : at;
      if (fields === undefined) sink[method](`[arden] ${message}`);
      else sink[method](`[arden] ${message}`, fields);
    };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** A logger that discards everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
