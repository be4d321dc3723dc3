/** Log levels, from the most verbose. `silent` logs nothing. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** A structured logger: one JSON object per line. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every line. */
  child(fields: Record<string, unknown>): Logger;
}

const ranks: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

// Field names whose values are secrets: replaced before a line is written, wherever they appear.
const secretField =
  /^(api[_-]?key|x-api-key|authorization|cookie|set-cookie|password|password[_-]?hash|signing[_-]?key|secret|token|key|hash)$/i;

// Secret texts (a database password, a key file's path) that must never reach a log line in any
// form, whatever message or field carries them: every logger of the process replaces them.
const secretTexts = new Set<string>();

/**
 * The shortest text `hideInLogs` hides: a shorter one would also blank every word that contains
 * it. The store refuses database credentials shorter than this (see `checkConnectionSecrets`).
 */
export const shortestHiddenText = 4;

/**
 * Makes every logger replace `text` (and its JSON- and URL-encoded forms) with `[redacted]`, in
 * any message or field. The store registers its database password and SSL key settings here, so
 * that a driver error quoting them cannot leak them. Texts shorter than `shortestHiddenText`
 * characters are ignored.
 */
export function hideInLogs(text: string | undefined): void {
  if (text === undefined || text.length < shortestHiddenText) return;
  for (const form of [text, JSON.stringify(text).slice(1, -1), encodeURIComponent(text)]) {
    secretTexts.add(form);
  }
}

/** `text` with every secret registered with `hideInLogs` replaced by `[redacted]`. */
export function withoutSecrets(text: string): string {
  let result = text;
  for (const secret of secretTexts) {
    if (result.includes(secret)) result = result.replaceAll(secret, '[redacted]');
  }
  return result;
}

function redact(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > 4) return value;
  if (value instanceof Error) {
    const detail = (value as { detail?: unknown }).detail;
    return {
      name: value.name,
      message: value.message,
      code: (value as { code?: unknown }).code,
      ...(typeof detail === 'string' ? { detail } : {}),
    };
  }
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [name, item] of Object.entries(value)) {
    out[name] = secretField.test(name) ? '[redacted]' : redact(item, depth + 1);
  }
  return out;
}

/** Whether `level` is a known log level. */
export function isLogLevel(level: unknown): level is LogLevel {
  return typeof level === 'string' && level in ranks;
}

/**
 * A JSON-lines logger writing to `write` (default: stderr). Values under secret-looking names
 * (keys, passwords, signing keys, tokens, hashes) are replaced by `[redacted]`, and so is any text
 * registered with `hideInLogs`, wherever it appears.
 */
export function createLogger(
  level: LogLevel = 'info',
  write: (line: string) => void = (line) => process.stderr.write(line),
  base: Record<string, unknown> = {},
): Logger {
  const threshold = ranks[level];
  const emit = (lineLevel: Exclude<LogLevel, 'silent'>, message: string, fields = {}) => {
    if (ranks[lineLevel] < threshold) return;
    let line: string;
    try {
      line = JSON.stringify({
        time: new Date().toISOString(),
        level: lineLevel,
        message,
        ...(redact(base) as object),
        ...(redact(fields) as object),
      });
    } catch {
      line = JSON.stringify({ time: new Date().toISOString(), level: lineLevel, message });
    }
    write(`${secretTexts.size > 0 ? withoutSecrets(line) : line}\n`);
  };
  return {
    debug: (message, fields) => emit('debug', message, fields),
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
    child: (fields) => createLogger(level, write, { ...base, ...fields }),
  };
}
