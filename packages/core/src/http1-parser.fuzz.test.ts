// Fuzz test of the HTTP/1.1 response parser: random well-formed responses (Content-Length,
// chunked, framed by the end of the connection, interim 1xx answers, trailers) fed in random
// pieces and split at every byte boundary must parse to exactly what was sent; mutated responses,
// garbage and oversized heads must either parse or be refused with a `ProtocolError`, never throw
// anything else, and never buffer without bound. The generator is seeded: a failure names its
// seed, and ARDEN_FUZZ_SEED=<n> replays it (or explores another sequence).
import { describe, expect, it } from 'vitest';
import { ProtocolError, ResponseParser } from './http1-parser';
import type { TransportResponse } from './transport';

const seed = Number(process.env.ARDEN_FUZZ_SEED ?? 20261206);

/** mulberry32: a small seeded generator, enough to vary inputs reproducibly. */
function generator(start: number) {
  let state = start >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
  const integer = (minimum: number, maximum: number) =>
    minimum + Math.floor(next() * (maximum - minimum + 1));
  const pick = <T>(items: readonly T[]): T => items[integer(0, items.length - 1)] as T;
  const chance = (probability: number) => next() < probability;
  return { next, integer, pick, chance };
}
type Random = ReturnType<typeof generator>;

const encoder = new TextEncoder();
const tokenCharacters = [
  ..."!#$%&'*+.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-",
];
const valueCharacters = [...tokenCharacters, ' ', '"', ',', ';', '=', '/'];
const textPieces = ['a', 'b', 'z', '0', ' ', '{', '"', ':', '}', '\n', 'é', '漢', '😀', '\r\n'];

function token(random: Random, maximum: number): string {
  let text = '';
  const length = random.integer(1, maximum);
  for (let index = 0; index < length; index++) text += random.pick(tokenCharacters);
  return text;
}

function text(random: Random, maximum: number): string {
  let result = '';
  const length = random.integer(0, maximum);
  for (let index = 0; index < length; index++) result += random.pick(textPieces);
  return result;
}

function headerValue(random: Random): string {
  // Visible characters and inner spaces; the parser trims the ends, so none are generated there.
  const inner = Array.from({ length: random.integer(0, 30) }, () =>
    random.pick(valueCharacters),
  ).join('');
  return `${token(random, 4)}${inner}${token(random, 2)}`;
}

/** One generated response: the bytes on the wire and what the parser must make of them. */
interface Case {
  bytes: Uint8Array;
  status: number;
  headers: Map<string, string>;
  text: string;
  framing: 'length' | 'chunked' | 'close' | 'none';
  keepAlive: boolean;
  trailing: number;
}

const framingHeaders = new Set(['content-length', 'transfer-encoding', 'connection']);

function wellFormed(random: Random): Case {
  const minor = random.chance(0.8) ? 1 : 0;
  const noBody = random.chance(0.1);
  // 204 and 304 never have a body, whatever the headers say: only the no-body case uses them.
  const anyStatus = random.integer(200, 599);
  const status = noBody
    ? random.pick([204, 304])
    : anyStatus === 204 || anyStatus === 304
      ? 200
      : anyStatus;
  const framing: Case['framing'] = noBody
    ? 'none'
    : random.pick(['length', 'length', 'chunked', 'chunked', 'close'] as const);
  const body = framing === 'none' ? '' : text(random, random.chance(0.1) ? 2000 : 120);
  const bodyBytes = encoder.encode(body);
  const headers = new Map<string, string>();
  const lines: string[] = [];
  const headerCount = random.integer(0, random.chance(0.1) ? 200 : 8);
  for (let index = 0; index < headerCount; index++) {
    const name = token(random, 20);
    if (framingHeaders.has(name.toLowerCase())) continue;
    const value = headerValue(random);
    const key = name.toLowerCase();
    const previous = headers.get(key);
    headers.set(key, previous === undefined ? value : `${previous}, ${value}`);
    lines.push(`${name}:${random.pick(['', ' ', '  ', '\t'])}${value}${random.pick(['', ' '])}`);
    // Sometimes the same field again, which the parser joins with a comma.
    if (random.chance(0.05)) {
      const again = headerValue(random);
      headers.set(key, `${headers.get(key)}, ${again}`);
      lines.push(`${name.toUpperCase()}: ${again}`);
    }
  }
  let keepAlive = minor === 1;
  if (random.chance(0.2)) {
    const connection = random.pick(['close', 'keep-alive', 'Keep-Alive', 'upgrade, close']);
    lines.push(`Connection: ${connection}`);
    headers.set('connection', connection);
    keepAlive = minor === 1 ? !/\bclose\b/i.test(connection) : /\bkeep-alive\b/i.test(connection);
  }
  let wireBody: Uint8Array = bodyBytes;
  if (framing === 'length') {
    const value = random.chance(0.1)
      ? `${bodyBytes.length}, ${bodyBytes.length}`
      : `${bodyBytes.length}`;
    lines.push(`${random.pick(['Content-Length', 'content-length'])}: ${value}`);
    headers.set('content-length', value);
  } else if (framing === 'chunked') {
    lines.push(`Transfer-Encoding: ${random.pick(['chunked', 'Chunked', ' chunked '])}`);
    wireBody = chunked(random, bodyBytes);
  } else if (framing === 'close') {
    keepAlive = false;
  }
  const interim = random.chance(0.1)
    ? `HTTP/1.1 ${random.pick([100, 102, 103])} ${random.pick(['Continue', 'Early Hints', ''])}\r\n${random.chance(0.5) ? 'Link: </style.css>; rel=preload\r\n' : ''}\r\n`
    : '';
  const reason = random.pick([' OK', ' Not Found', ' ', '', ' Whatever It Says']);
  const head = `${interim}HTTP/1.${minor} ${status}${reason}\r\n${lines.map((line) => `${line}\r\n`).join('')}\r\n`;
  // Bytes after the end of a framed response (a misbehaving server); a close-delimited body
  // takes everything, so none are added there.
  const trailing =
    framing !== 'close' && random.chance(0.15) ? encoder.encode(text(random, 20) || 'x') : [];
  const bytes = concat([encoder.encode(head), wireBody, Uint8Array.from(trailing)]);
  return {
    bytes,
    status,
    headers,
    text: body,
    framing,
    keepAlive,
    trailing: trailing.length,
  };
}

function chunked(random: Random, body: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let offset = 0;
  while (offset < body.length) {
    const size = Math.min(body.length - offset, random.integer(1, 64));
    const extension = random.chance(0.1) ? ';name=value' : '';
    const digits = random.chance(0.5) ? size.toString(16) : size.toString(16).toUpperCase();
    parts.push(encoder.encode(`${digits}${extension}\r\n`), body.subarray(offset, offset + size));
    parts.push(encoder.encode('\r\n'));
    offset += size;
  }
  const trailers = random.chance(0.2) ? 'Checksum: abc\r\nOther: 1\r\n' : '';
  parts.push(encoder.encode(`${random.pick(['0', '000'])}\r\n${trailers}\r\n`));
  return concat(parts);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

/** Splits `bytes` at random places (sometimes into single bytes). */
function pieces(random: Random, bytes: Uint8Array): Uint8Array[] {
  const result: Uint8Array[] = [];
  let offset = 0;
  const single = random.chance(0.05);
  while (offset < bytes.length) {
    const size = single ? 1 : random.integer(1, random.chance(0.5) ? 8 : 512);
    result.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  return result;
}

type Outcome =
  | { kind: 'response'; response: TransportResponse; parser: ResponseParser }
  | { kind: 'incomplete'; parser: ResponseParser }
  | { kind: 'refused'; error: ProtocolError };

/** Feeds the pieces, then closes the connection; any throw other than a `ProtocolError` escapes. */
function parse(parts: readonly Uint8Array[]): Outcome {
  const parser = new ResponseParser(Buffer);
  let response: TransportResponse | undefined;
  try {
    for (const part of parts) {
      const answer = parser.feed(part);
      if (answer) {
        if (response) throw new Error('the parser answered twice');
        response = answer;
      }
    }
    response ??= parser.end();
  } catch (error) {
    if (error instanceof ProtocolError) return { kind: 'refused', error };
    throw error;
  }
  return response ? { kind: 'response', response, parser } : { kind: 'incomplete', parser };
}

function expectParsed(generated: Case, outcome: Outcome, context: string): void {
  if (outcome.kind !== 'response') {
    const detail = outcome.kind === 'refused' ? outcome.error.message : 'no response';
    throw new Error(`${context}: expected a response, got ${detail}`);
  }
  const { response, parser } = outcome;
  expect(response.status, context).toBe(generated.status);
  expect(response.text, context).toBe(generated.text);
  for (const [name, value] of generated.headers) {
    if (name === 'content-length' || name === 'connection') continue;
    expect(response.header(name), `${context}: header ${name}`).toBe(value);
    expect(response.header(name.toUpperCase()), `${context}: header ${name}`).toBe(value);
  }
  expect(parser.keepAlive, `${context}: keepAlive`).toBe(generated.keepAlive);
  expect(parser.extraBytes, `${context}: extraBytes`).toBe(generated.trailing);
}

function expectRefusedOrParsed(outcome: Outcome, context: string): void {
  if (outcome.kind === 'refused') {
    expect(outcome.error.code, context).toBe('ARDEN_HTTP_PROTOCOL');
    expect(outcome.error.message.length, context).toBeGreaterThan(0);
  } else if (outcome.kind === 'response') {
    expect(outcome.response.status, context).toBeGreaterThanOrEqual(100);
    expect(outcome.response.status, context).toBeLessThanOrEqual(999);
    expect(typeof outcome.response.text, context).toBe('string');
  }
}

describe(`ResponseParser fuzz (seed ${seed})`, () => {
  it('parses random well-formed responses fed in random pieces to exactly what was sent', () => {
    const random = generator(seed);
    const framings = new Set<string>();
    for (let index = 0; index < 400; index++) {
      const generated = wellFormed(random);
      framings.add(generated.framing);
      expectParsed(generated, parse([generated.bytes]), `case ${index}, one piece`);
      expectParsed(generated, parse(pieces(random, generated.bytes)), `case ${index}, pieces`);
    }
    // The generator reached every framing, so the loop above tested each.
    expect([...framings].sort()).toEqual(['chunked', 'close', 'length', 'none']);
  });

  it('parses a response split in two at every byte boundary', () => {
    const random = generator(seed + 1);
    let splits = 0;
    for (let index = 0; index < 20; index++) {
      let generated = wellFormed(random);
      while (generated.bytes.length > 400) generated = wellFormed(random);
      const { bytes } = generated;
      for (let at = 0; at <= bytes.length; at++) {
        const outcome = parse([bytes.subarray(0, at), bytes.subarray(at)]);
        expectParsed(generated, outcome, `case ${index}, split at ${at}`);
        splits++;
      }
    }
    expect(splits).toBeGreaterThan(500);
  });

  it('answers a truncated response only when the connection end frames it', () => {
    const random = generator(seed + 2);
    for (let index = 0; index < 300; index++) {
      const generated = wellFormed(random);
      const cut = random.integer(0, generated.bytes.length - generated.trailing - 1);
      const outcome = parse(pieces(random, generated.bytes.subarray(0, cut)));
      expectRefusedOrParsed(outcome, `case ${index}, cut at ${cut}`);
      // Cut short, a response framed by length or chunks is never complete; one framed by the
      // end of the connection ends where the bytes end.
      if (generated.framing === 'length' || generated.framing === 'chunked') {
        expect(outcome.kind, `case ${index}, cut at ${cut}`).not.toBe('response');
      }
    }
  });

  it('refuses or parses mutated responses, never throwing anything but a ProtocolError', () => {
    const random = generator(seed + 3);
    const kinds = { response: 0, incomplete: 0, refused: 0 };
    for (let index = 0; index < 1500; index++) {
      const bytes = Uint8Array.from(wellFormed(random).bytes);
      const mutated = mutate(random, bytes);
      const outcome = parse(pieces(random, mutated));
      expectRefusedOrParsed(outcome, `case ${index}`);
      kinds[outcome.kind]++;
    }
    // Mutations land in heads and bodies alike: some still parse, some are refused.
    expect(kinds.refused).toBeGreaterThan(50);
    expect(kinds.response).toBeGreaterThan(50);
  });

  it('refuses garbage within a bounded number of bytes', () => {
    const random = generator(seed + 4);
    const alphabet = [...encoder.encode('abcXYZ :\t\r')];
    for (let index = 0; index < 10; index++) {
      const parser = new ResponseParser(Buffer);
      let fed = 0;
      let refused: unknown;
      // Random bytes with no blank line, or a valid-looking start that never ends its head.
      const prefix = random.chance(0.5) ? encoder.encode('HTTP/1.1 200 OK\r\nx: ') : undefined;
      if (prefix) {
        parser.feed(prefix);
        fed += prefix.length;
      }
      while (refused === undefined && fed < 200 * 1024) {
        const chunk = Uint8Array.from({ length: random.integer(1, 8192) }, () =>
          random.pick(alphabet),
        );
        try {
          parser.feed(chunk);
        } catch (error) {
          refused = error;
        }
        fed += chunk.length;
      }
      expect(refused, `case ${index}`).toBeInstanceOf(ProtocolError);
      expect(fed, `case ${index}`).toBeLessThanOrEqual(64 * 1024 + 8192);
    }
  });

  it('refuses random bytes that are not an HTTP/1.x answer', () => {
    const random = generator(seed + 5);
    for (let index = 0; index < 500; index++) {
      const bytes = Uint8Array.from({ length: random.integer(1, 300) }, () =>
        random.integer(0, 255),
      );
      const withEnd = concat([bytes, encoder.encode('\r\n\r\n')]);
      const outcome = parse(pieces(random, withEnd));
      expect(outcome.kind, `case ${index}`).toBe('refused');
    }
  });

  it('reads a head just under 64 KiB and refuses one just over', () => {
    const random = generator(seed + 6);
    for (const [size, accepted] of [
      [60 * 1024, true],
      [70 * 1024, false],
    ] as const) {
      const lines: string[] = [];
      let length = 0;
      for (let index = 0; length < size; index++) {
        const line = `x-header-${index}: ${'v'.repeat(random.integer(10, 2000))}\r\n`;
        lines.push(line);
        length += line.length;
      }
      const bytes = encoder.encode(
        `HTTP/1.1 200 OK\r\n${lines.join('')}content-length: 2\r\n\r\nok`,
      );
      const outcome = parse(pieces(random, bytes));
      if (accepted) {
        expect(outcome.kind).toBe('response');
      } else {
        expect(outcome.kind).toBe('refused');
        expect(outcome.kind === 'refused' && outcome.error.message).toMatch(/64 KiB/);
      }
    }
    const oneLine = encoder.encode(`HTTP/1.1 200 OK\r\nhuge: ${'v'.repeat(70 * 1024)}\r\n\r\n`);
    expect(parse([oneLine]).kind).toBe('refused');
  });

  it('refuses oversized chunk size lines, chunk sizes and content lengths', () => {
    const head = 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n';
    const cases = [
      `${head}${'0'.repeat(2000)}`,
      `${head}1${';x'.repeat(600)}`,
      `${head}123456789\r\n`,
      `${head}zz\r\n`,
      `${head}2\r\nokXY`,
      'HTTP/1.1 200 OK\r\ncontent-length: 99999999999\r\n\r\n',
      'HTTP/1.1 200 OK\r\ncontent-length: 1, 2\r\n\r\n',
      'HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n',
      'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n',
      'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n',
      'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n',
      'HTTP/2 200\r\n\r\n',
    ];
    for (const input of cases) {
      const outcome = parse([encoder.encode(input)]);
      expect(outcome.kind, JSON.stringify(input.slice(0, 80))).toBe('refused');
    }
  });
});

function mutate(random: Random, bytes: Uint8Array): Uint8Array {
  const interesting = [...encoder.encode('\r\n:; 0fF-\t\0'), 0xff, 0x80];
  const count = random.integer(1, 4);
  let result = bytes;
  for (let index = 0; index < count; index++) {
    const at = random.integer(0, Math.max(0, result.length - 1));
    switch (random.integer(0, 4)) {
      case 0: {
        // Replace a byte.
        const copy = Uint8Array.from(result);
        copy[at] = random.chance(0.5) ? random.pick(interesting) : random.integer(0, 255);
        result = copy;
        break;
      }
      case 1:
        // Delete a run of bytes.
        result = concat([result.subarray(0, at), result.subarray(at + random.integer(1, 8))]);
        break;
      case 2: {
        // Insert bytes.
        const inserted = Uint8Array.from({ length: random.integer(1, 8) }, () =>
          random.pick(interesting),
        );
        result = concat([result.subarray(0, at), inserted, result.subarray(at)]);
        break;
      }
      case 3:
        // Repeat a slice (a doubled header line or chunk).
        result = concat([
          result.subarray(0, at),
          result.subarray(at, at + 20),
          result.subarray(at),
        ]);
        break;
      default:
        // Truncate.
        result = result.subarray(0, at);
    }
  }
  return result;
}
