const marker = Symbol.for('arden.server.error');

/**
 * Base class of the server's errors. `status` is the HTTP status an API answers with and
 * `message` is safe to show to the caller (it never holds a secret or a stack trace).
 * `ArdenServerError.isInstance(e)` also recognises errors from another copy of this package.
 */
export class ArdenServerError extends Error {
  readonly [marker] = true;
  /** HTTP status for an API answer. */
  readonly status: number;
  /** A stable machine-readable code, for example `not_found`. */
  readonly code: string;

  constructor(status: number, code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
  }

  /** Whether `error` is an `ArdenServerError` from any copy of this package. */
  static isInstance(error: unknown): error is ArdenServerError {
    return typeof error === 'object' && error !== null && marker in error;
  }
}

/** A request body or parameter is malformed; `field` names the culprit. */
export class ValidationError extends ArdenServerError {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(400, 'invalid_request', message);
  }
}

/** No or an unknown credential. */
export class AuthenticationError extends ArdenServerError {
  constructor(message: string) {
    super(401, 'unauthorized', message);
  }
}

/** The credential is valid but may not do this. */
export class ForbiddenError extends ArdenServerError {
  constructor(message: string) {
    super(403, 'forbidden', message);
  }
}

/** The thing does not exist (or is not visible to this caller). */
export class NotFoundError extends ArdenServerError {
  constructor(message: string) {
    super(404, 'not_found', message);
  }
}

/** The request conflicts with the current state, for example a second decision on an action. */
export class ConflictError extends ArdenServerError {
  constructor(
    message: string,
    readonly current?: Record<string, unknown>,
  ) {
    super(409, 'conflict', message);
  }
}

/** The request body did not arrive in time; the connection is closed. */
export class BodyTimeoutError extends ArdenServerError {
  constructor(readonly timeoutMs: number) {
    super(
      408,
      'request_timeout',
      `The request body did not arrive within ${timeoutMs / 1000} s; the connection is closed. Send the whole body at once and retry.`,
    );
  }
}

/**
 * The request body is larger than the server's limit. `setting` names the setting that raises
 * it: `ARDEN_BODY_LIMIT` for every route, `ARDEN_CHECK_BODY_LIMIT` for tool-call checks (bytes),
 * `ARDEN_CHECK_VALUE_LIMIT` for the number of JSON values in a tool-call check. The answer (413)
 * carries both `limit` (bytes, or values for the value limit) and `setting`.
 */
export class PayloadTooLargeError extends ArdenServerError {
  constructor(
    readonly limit: number,
    readonly setting:
      | 'ARDEN_BODY_LIMIT'
      | 'ARDEN_CHECK_BODY_LIMIT'
      | 'ARDEN_CHECK_VALUE_LIMIT' = 'ARDEN_BODY_LIMIT',
  ) {
    super(
      413,
      'payload_too_large',
      setting === 'ARDEN_CHECK_BODY_LIMIT'
        ? `This tool call is larger than the server's limit for a check, ${sizeOf(limit)}, so it was not checked and must not run. Send smaller tool arguments (for example, write a large file in parts), or have the server's operator raise ARDEN_CHECK_BODY_LIMIT (a larger check may hold the server for more than 10 ms).`
        : setting === 'ARDEN_CHECK_VALUE_LIMIT'
          ? `This tool call has more JSON values than the server's limit for a check, ${limit} (every number, string, boolean, null, list and object counts one), so it was not checked and must not run. Send fewer values (for example, a long list in parts, or data as one string), or have the server's operator raise ARDEN_CHECK_VALUE_LIMIT (a larger check may hold the server for more than 10 ms).`
          : `The request body is larger than the server's limit of ${sizeOf(limit)}. Send less data (for example, trim large tool arguments) or raise ARDEN_BODY_LIMIT.`,
    );
  }
}

function sizeOf(bytes: number): string {
  const kib = bytes / 1024;
  const readable =
    kib >= 1024 && Number.isInteger(kib / 1024)
      ? ` (${kib / 1024} MiB)`
      : Number.isInteger(kib)
        ? ` (${kib} KiB)`
        : '';
  return `${bytes} bytes${readable}`;
}

/** Too many requests for this key. */
export class RateLimitedError extends ArdenServerError {
  constructor(readonly retryAfterSeconds: number) {
    super(
      429,
      'rate_limited',
      `Too many requests for this API key; retry after ${retryAfterSeconds} s.`,
    );
  }
}

/**
 * The database cannot be reached now (PostgreSQL restarting, a network cut). Requests fail
 * closed with 503 and `Retry-After`; nothing was decided or logged. The server recovers by
 * itself when the database is back.
 */
export class StoreUnavailableError extends ArdenServerError {
  readonly retryAfterSeconds = 1;
  /**
   * `message` is what callers see: it names no host, user or database. `location` (credentials
   * hidden) and the driver's `detail` are for the server log only.
   */
  constructor(
    readonly location: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      503,
      'store_unavailable',
      'The Arden server cannot reach its database; nothing was decided or recorded. Retry in a moment — the server reconnects by itself.',
      options,
    );
  }
}

/** The database was written by a newer server than this one. */
export class SchemaVersionError extends ArdenServerError {
  constructor(
    readonly databaseVersion: number,
    readonly knownVersion: number,
    location: string,
  ) {
    super(
      500,
      'schema_too_new',
      `The database at ${location} has schema version ${databaseVersion}, but this Arden server knows only up to version ${knownVersion}. It was migrated by a newer Arden: upgrade @arden/server, or start with another data directory (--data-dir) or DATABASE_URL.`,
    );
  }
}
