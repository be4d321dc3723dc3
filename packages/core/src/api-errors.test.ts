import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ArdenApiError, ArdenUnavailableError } from './errors';
import { HttpClient } from './http';
import { resolveOptions } from './options';

// What an error says when the server answers with an error: one sentence per part (no ".."),
// the key's format only where the key is malformed, ARDEN_API_URL where the URL is wrong.
const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

async function answering(status: number, body: string, contentType = 'application/json') {
  const server = createServer((_request, response) => {
    response.writeHead(status, { 'content-type': contentType });
    response.end(body);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const apiKey = `arden_test_${'e'.repeat(32)}`;

async function failure(apiUrl: string): Promise<Error> {
  const client = new HttpClient(
    resolveOptions({ apiKey, apiUrl, retryAttempts: 1, logLevel: 'silent' }),
  );
  try {
    return (await client.request('POST', '/policy/check', {}).catch((error) => error)) as Error;
  } finally {
    client.close();
  }
}

describe('error texts of the agent API client', () => {
  it('a refused key: the server’s sentence once, no key-format hint (the key is well formed)', async () => {
    const error = await failure(
      await answering(
        401,
        JSON.stringify({
          error:
            'The API key is not valid: it is unknown or was revoked. Create a new one with `arden agents keys create`.',
        }),
      ),
    );
    expect(ArdenApiError.isInstance(error)).toBe(true);
    expect(error.message).toBe(
      'Arden server answered 401 to /policy/check: The API key is not valid: it is unknown or was revoked. Create a new one with `arden agents keys create`. Check ARDEN_API_KEY (or the apiKey passed to configure()), and that ARDEN_API_URL is the server that issued the key.',
    );
    expect(error.message).not.toMatch(/\.\.|arden_test_ or arden_live_/);
  });

  it('a 404 from a server that is not Arden says to check ARDEN_API_URL', async () => {
    const apiUrl = await answering(
      404,
      '<html><body><h1>404 Not Found</h1></body></html>',
      'text/html',
    );
    const error = await failure(apiUrl);
    expect(ArdenApiError.isInstance(error)).toBe(true);
    expect(error.message).toBe(
      `The server at ${apiUrl} answered 404 to /policy/check, and the answer is not from an Arden server. Check ARDEN_API_URL (or the apiUrl passed to configure()): it is the Arden server's base address, such as http://localhost:8787, with no path (it is ${apiUrl}).`,
    );
  });

  it('Arden’s own “no route” 404 (a path in apiUrl) says to check ARDEN_API_URL', async () => {
    const apiUrl = await answering(
      404,
      JSON.stringify({
        error:
          'No route POST /api/policy/check. The agent API has POST /policy/check, GET /status/{action_id}, POST /token-usage and POST /v1/actions/{action_id}/result.',
      }),
    );
    const error = await failure(`${apiUrl}/api`);
    expect(error.message).toMatch(/\/result\. Check ARDEN_API_URL \(or the apiUrl/);
    expect(error.message).not.toMatch(/\.\./);
  });

  it('an unknown action (Arden’s 404 with a reason) gets no URL hint', async () => {
    const error = await failure(
      await answering(404, JSON.stringify({ error: 'No action act_1 for this key.' })),
    );
    expect(error.message).toBe(
      'Arden server answered 404 to /policy/check: No action act_1 for this key.',
    );
  });

  it('giving up after server errors: one full stop between sentences', async () => {
    const error = await failure(
      await answering(503, JSON.stringify({ error: 'The database is unreachable. Retry soon.' })),
    );
    expect(ArdenUnavailableError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(
      /after 2 attempt\(s\): Arden server answered 503 to \/policy\/check: The database is unreachable\. Retry soon\. Is the server running/,
    );
    expect(error.message).not.toMatch(/\.\./);
  });
});
