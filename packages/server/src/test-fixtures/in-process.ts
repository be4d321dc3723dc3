import { inject } from 'light-my-request';
import { type ArdenServer, requestHandlerOf } from '../server';

/** An answer of an in-process request. */
export interface InProcessResponse {
  status: number;
  headers: Headers;
  text: string;
}

/**
 * Sends a request to `server`'s request handler in this process, without a port or a socket
 * (hono's `app.request()` idea, with light-my-request's fake request and response): for tests
 * where the network is not the point. It goes through everything a request over TCP goes
 * through after Node's HTTP parser — the router, authentication, body limits and timeouts, the
 * JSON errors — from the address 127.0.0.1. Streams (SSE) and anything about connections, sockets
 * or Node's parser still need a real port.
 */
export async function requestInProcess(
  server: ArdenServer,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string } = {},
): Promise<InProcessResponse> {
  const response = await inject(requestHandlerOf(server), {
    method: method as 'GET',
    url: path,
    headers: options.headers,
    payload: options.body,
    remoteAddress: '127.0.0.1',
  });
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, String(item));
  }
  return { status: response.statusCode, headers, text: response.payload };
}
