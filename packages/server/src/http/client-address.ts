import type { IncomingMessage } from 'node:http';

/**
 * The client's address. With `trustedProxyHops` = 0 it is the TCP peer, and `X-Forwarded-For`
 * is ignored (any client can write it). With n > 0 proxies in front of the server, each
 * appending the address it received from (nginx's `$proxy_add_x_forwarded_for`), the client is
 * the n-th entry from the right: entries left of it were written by the client and are not
 * trusted. A header with fewer entries than that (a proxy that does not append) gives its
 * leftmost entry; no header gives the TCP peer.
 */
export function clientAddress(request: IncomingMessage, trustedProxyHops: number): string {
  const peer = request.socket.remoteAddress ?? 'unknown';
  if (trustedProxyHops <= 0) return peer;
  const raw = request.headers['x-forwarded-for'];
  if (raw === undefined) return peer;
  // Several header lines count as one list, in order (RFC 9110 §5.3).
  const entries = (Array.isArray(raw) ? raw.join(',') : raw)
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) return peer;
  const entry = entries[Math.max(0, entries.length - trustedProxyHops)] as string;
  return entry.slice(0, 100);
}
