import { type Server, STATUS_CODES } from 'node:http';
import { isIPv6, type Socket } from 'node:net';
import type { Logger } from '../logger';

/**
 * The group a client address is counted in: an IPv4 address itself (also when IPv4-mapped), an
 * IPv6 address's /64 — one subscriber's network, in which a client can pick any of 2^64
 * addresses.
 */
export function addressGroup(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1] as string;
  if (!isIPv6(address)) return address;
  const plain = address.split('%')[0] as string;
  const [head = '', tail] = plain.split('::');
  const parts = (text: string) => (text === '' ? [] : text.split(':'));
  // An embedded IPv4 tail (::a.b.c.d) takes two of the eight groups.
  const width = (groups: string[]) =>
    groups.reduce((sum, group) => sum + (group.includes('.') ? 2 : 1), 0);
  const groups =
    tail === undefined
      ? parts(head)
      : [
          ...parts(head),
          ...Array<string>(8 - width(parts(head)) - width(parts(tail))).fill('0'),
          ...parts(tail),
        ];
  return `${groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}

/** Connection limits of the HTTP server (see `ServerConfig`). */
export interface ConnectionLimits {
  /** Open connections at once, over all clients; 0 for no cap. */
  maxConnections: number;
  /** Open connections at once from one address; 0 for no cap. */
  maxConnectionsPerAddress: number;
}

// Sockets refused at accept time: their requests (if any arrive before the close) are dropped.
const refusedSockets = new WeakSet<Socket>();

/** Whether `socket` was refused by the connection caps (its requests must not be handled). */
export function isRefusedSocket(socket: Socket): boolean {
  return refusedSockets.has(socket);
}

/** A complete HTTP/1.1 answer with a JSON error body, written on a socket Node owns no more. */
function rawAnswer(status: number, message: string, headers: Record<string, string> = {}): string {
  const body = JSON.stringify({ error: message });
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\n${extra}connection: close\r\n\r\n${body}`;
}

/**
 * Caps the connections of `server` per client address (IPv6 per /64, see `addressGroup`) and in
 * total. A connection over the per-address cap gets a JSON 503 with `Retry-After` and is closed
 * at once, before any of its requests is handled. At the total cap, the oldest connection that
 * has not yet sent a whole request head (an idle or trickling one: what holding slots costs an
 * attacker nothing) is closed to make room; only when there is none is the new one refused.
 * Counted at the TCP level: behind a reverse proxy every connection comes from the proxy.
 */
export function capConnections(server: Server, limits: ConnectionLimits, logger: Logger): void {
  const perAddress = new Map<string, number>();
  // Connections that have not sent a complete request head yet, oldest first.
  const waitingForRequest = new Set<Socket>();
  const groupOf = new WeakMap<Socket, string>();
  const released = new WeakSet<Socket>();
  let open = 0;
  let lastLog = 0;
  const logAtMostEverySecond = (message: string, fields: Record<string, unknown>) => {
    const now = Date.now();
    if (now - lastLog > 1_000) {
      lastLog = now;
      logger.warn(message, fields);
    }
  };
  // Once per socket: at once when it is closed to make room (its 'close' comes later), else on
  // 'close'.
  const release = (socket: Socket) => {
    const group = groupOf.get(socket);
    if (group === undefined || released.has(socket)) return;
    released.add(socket);
    waitingForRequest.delete(socket);
    open--;
    const left = (perAddress.get(group) ?? 1) - 1;
    if (left <= 0) perAddress.delete(group);
    else perAddress.set(group, left);
  };
  server.on('request', (request) => {
    waitingForRequest.delete(request.socket);
  });
  // Before Node's own listener, so a refused socket is marked before its parser runs.
  server.prependListener('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    const group = addressGroup(address);
    const fromAddress = perAddress.get(group) ?? 0;
    const overAddress =
      limits.maxConnectionsPerAddress > 0 && fromAddress >= limits.maxConnectionsPerAddress;
    let overTotal = !overAddress && limits.maxConnections > 0 && open >= limits.maxConnections;
    if (overTotal) {
      const oldest = waitingForRequest.values().next().value as Socket | undefined;
      if (oldest) {
        logAtMostEverySecond(
          'At the connection cap: closed the oldest connection that had sent no request',
          { address: oldest.remoteAddress, open },
        );
        oldest.destroy();
        release(oldest);
        overTotal = false;
      }
    }
    if (overTotal || overAddress) {
      refusedSockets.add(socket);
      logAtMostEverySecond('Refused a connection over the connection cap', {
        address,
        cap: overAddress ? 'per address' : 'total',
        open,
        fromAddress,
      });
      socket.on('error', () => undefined);
      socket.end(
        rawAnswer(
          503,
          overAddress
            ? `Too many open connections from your address (the cap is ${limits.maxConnectionsPerAddress}). Reuse keep-alive connections or close idle ones, and retry.`
            : 'The server has too many open connections. Retry in a moment.',
          { 'retry-after': '1' },
        ),
      );
      setTimeout(() => socket.destroy(), 1_000).unref();
      return;
    }
    open++;
    perAddress.set(group, fromAddress + 1);
    groupOf.set(socket, group);
    waitingForRequest.add(socket);
    socket.once('close', () => release(socket));
  });
}

/**
 * Answers what Node's HTTP parser refuses — a request line or header that is not HTTP (400),
 * headers over the size limit (431), headers or a request that took too long (408) — with a JSON
 * error like every other answer, then closes the connection.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (
      refusedSockets.has(socket) ||
      !socket.writable ||
      error.code === 'ECONNRESET' ||
      // A response of ours is already on this connection: raw bytes would corrupt it.
      (socket as Socket & { _httpMessage?: unknown })._httpMessage
    ) {
      socket.destroy();
      return;
    }
    const status =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? 431
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' || error.code === 'ERR_HTTP_HEADERS_TIMEOUT'
          ? 408
          : 400;
    const message =
      status === 431
        ? 'The request headers are too large (the limit is 16 KiB). Send fewer or shorter headers.'
        : status === 408
          ? 'The request took too long to arrive; the connection is closed. Send the whole request at once and retry.'
          : 'The request is not valid HTTP/1.1 (a malformed request line or header). Check the client or proxy that sent it.';
    socket.end(rawAnswer(status, message));
    setTimeout(() => socket.destroy(), 1_000).unref();
  });
}
