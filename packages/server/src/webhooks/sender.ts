import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import {
  ForbiddenWebhookAddressError,
  lookupFor,
  type Resolver,
  refusal,
  type WebhookAddressPolicy,
} from './ssrf';

/** One webhook POST to send. */
export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The whole exchange (connect, send, answer, its body) must finish within this. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** What the receiver answered. */
export interface WebhookResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The first bytes of the answer's body (at most 4 KiB), for the attempt log. */
  body: string;
}

/**
 * Sends one webhook. Rejects when no answer came: a `WebhookSendError` saying why (timeout,
 * refused connection, forbidden address, …).
 */
export type WebhookSender = (request: WebhookRequest) => Promise<WebhookResponse>;

/** Why a webhook got no answer. */
export class WebhookSendError extends Error {
  constructor(
    message: string,
    /** `timeout`, `forbidden_address`, `aborted` or `network`. */
    readonly kind: 'timeout' | 'forbidden_address' | 'aborted' | 'network',
  ) {
    super(message);
    this.name = 'WebhookSendError';
  }
}

const maxAnswerBytes = 4 * 1024;

/**
 * The sender of the outbox: `node:http(s)` with a DNS lookup that refuses private, loopback,
 * link-local and metadata addresses (unless `policy` allows them) — checked on the address the
 * connection is made to, at every attempt. Redirects are never followed (a 3xx is an answer,
 * and counts as a failure); the time limit covers the whole exchange.
 */
export function createWebhookSender(
  policy: WebhookAddressPolicy,
  options: { resolver?: Resolver } = {},
): WebhookSender {
  const lookup = lookupFor(policy, options.resolver);
  return (request) =>
    new Promise<WebhookResponse>((resolve, reject) => {
      let settled = false;
      const finish = (error: Error | undefined, response?: WebhookResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        request.signal?.removeEventListener('abort', onAbort);
        if (error) {
          outgoing.destroy();
          reject(error);
        } else resolve(response as WebhookResponse);
      };
      let url: URL;
      try {
        url = new URL(request.url);
      } catch {
        reject(new WebhookSendError(`the webhook URL "${request.url}" is not a URL`, 'network'));
        return;
      }
      const host = url.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host)) {
        // An address in the URL is not looked up: check it here.
        const reason = refusal(policy, host, host);
        if (reason) {
          reject(new WebhookSendError(reason, 'forbidden_address'));
          return;
        }
      }
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const body = Buffer.from(request.body);
      const outgoing = send(url, {
        method: 'POST',
        headers: { ...request.headers, 'content-length': String(body.length) },
        lookup,
        // One connection per attempt: a pooled one could outlive a DNS change.
        agent: false,
      });
      const timer = setTimeout(
        () => finish(new WebhookSendError(`no answer within ${request.timeoutMs} ms`, 'timeout')),
        request.timeoutMs,
      );
      const onAbort = () => finish(new WebhookSendError('the send was cancelled', 'aborted'));
      // Listening for errors before anything can end the request: destroying it (finish) emits
      // one, which unheard would be an uncaught exception in the server.
      outgoing.on('error', (error: NodeJS.ErrnoException) => {
        if (error instanceof ForbiddenWebhookAddressError) {
          finish(new WebhookSendError(error.message, 'forbidden_address'));
          return;
        }
        const detail = error.code ? `${error.code}: ${error.message}` : error.message;
        finish(new WebhookSendError(`could not send: ${detail}`, 'network'));
      });
      if (request.signal?.aborted) {
        onAbort();
        return;
      }
      request.signal?.addEventListener('abort', onAbort, { once: true });
      outgoing.on('response', (incoming) => {
        const chunks: Buffer[] = [];
        let size = 0;
        incoming.on('data', (chunk: Buffer) => {
          if (size < maxAnswerBytes) chunks.push(chunk);
          size += chunk.length;
        });
        incoming.on('error', (error) =>
          finish(new WebhookSendError(`the answer broke off: ${error.message}`, 'network')),
        );
        incoming.on('end', () =>
          finish(undefined, {
            status: incoming.statusCode ?? 0,
            headers: incoming.headers,
            body: Buffer.concat(chunks).toString('utf8').slice(0, maxAnswerBytes),
          }),
        );
      });
      outgoing.end(body);
    });
}
