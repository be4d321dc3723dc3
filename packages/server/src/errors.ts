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

/** The body is larger than the configured limit. */
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

/** The request body is larger than the server's limit. */
export class PayloadTooLargeError extends ArdenServerError {
  constructor(limit: number) {
    super(
      413,
      'payload_too_large',
      `The request body is larger than the server's limit of ${limit} bytes. Send less data (for example, trim large tool arguments) or raise ARDEN_BODY_LIMIT.`,
    );
  }
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
