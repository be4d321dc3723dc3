import { stringifyJson } from '../store/json';
import { CliError, type CliIo, exitCodes, UsageError } from './io';

/** The admin API over HTTP, with an admin token. */
export class AdminClient {
  constructor(
    readonly url: string,
    private readonly token: string,
    private readonly fetchImplementation: typeof fetch = fetch,
  ) {}

  /** Calls `path` (under the server URL); throws `CliError` with the server's message on failure. */
  async request<T = any>(
    method: string,
    path: string,
    body?: unknown,
    options: { timeoutMs?: number } = {},
  ): Promise<T> {
    let response: Response;
    try {
      response = await this.fetchImplementation(new URL(path, this.url), {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        // stringifyJson: a RawJson in the body (an approver's --patch) is sent as written.
        body: body === undefined ? undefined : stringifyJson(body),
        signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      const cause =
        (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new CliError(
        `Cannot reach the Arden server at ${this.url} (${cause}). Start it with \`arden start\`, or pass its address with --url or ARDEN_URL.`,
        exitCodes.unreachable,
      );
    }
    const text = await response.text();
    let json: any;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const message =
        typeof json?.error === 'string'
          ? json.error
          : `The server answered ${response.status} ${response.statusText}.`;
      const error = new CliError(
        response.status === 401
          ? `${message}\nThe admin token was refused: create one with \`arden tokens create\` and pass it as --token or ARDEN_ADMIN_TOKEN.`
          : message,
      );
      Object.assign(error, { status: response.status, body: json });
      throw error;
    }
    return json as T;
  }
}

/** The admin client of a command: `--url`/`ARDEN_URL` and `--token`/`ARDEN_ADMIN_TOKEN`. */
export function clientFor(
  io: CliIo,
  options: { url?: string | undefined; token?: string | undefined },
): AdminClient {
  const url = options.url ?? (io.env.ARDEN_URL || undefined) ?? 'http://127.0.0.1:8787';
  try {
    new URL(url);
  } catch {
    throw new UsageError(`--url "${url}" is not a URL like http://127.0.0.1:8787.`);
  }
  const token = options.token ?? io.env.ARDEN_ADMIN_TOKEN;
  if (!token) {
    throw new UsageError(
      'This command talks to a running server and needs an admin token. Create one with `arden tokens create` (on the server machine) and pass it as --token or ARDEN_ADMIN_TOKEN.',
    );
  }
  return new AdminClient(url, token);
}

/** The options every server command takes. */
export const connectionOptions = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
} as const;
