import { describe, expect, test } from 'vitest';
import { parseRunArguments } from './cli';
import { InexactNumberError, parseExactJson, sourceTextAccess } from './exact-json';
import { idCandidates, LineSplitter, type OversizeLine } from './lines';

function split(chunks: string[], maxBytes = 100) {
  const lines: string[] = [];
  const oversize: OversizeLine[] = [];
  const splitter = new LineSplitter(
    maxBytes,
    (line) => lines.push(line.toString('utf8')),
    (line) => oversize.push(line),
  );
  for (const chunk of chunks) splitter.push(Buffer.from(chunk));
  return { lines, oversize };
}

describe('LineSplitter', () => {
  test('splits on newlines across chunks, drops a trailing CR and empty lines', () => {
    expect(split(['{"a":', '1}\n{"b"', ':2}\r\n\n{"c":3}']).lines).toEqual(['{"a":1}', '{"b":2}']);
  });

  test('a line over the limit is reported with its size and ends, and the next line is intact', () => {
    const long = `{"jsonrpc":"2.0","id":7,"method":"x","params":"${'z'.repeat(300)}"}`;
    const { lines, oversize } = split([long.slice(0, 50), long.slice(50), '\n{"ok":1}\n']);
    expect(lines).toEqual(['{"ok":1}']);
    expect(oversize).toHaveLength(1);
    expect(oversize[0]?.bytes).toBe(long.length);
    expect(idCandidates(oversize[0] as OversizeLine)).toEqual(['7']);
  });

  test('idCandidates finds a trailing id (the SDK writes it last) and string ids', () => {
    expect(
      idCandidates({
        bytes: 1,
        head: '{"result":{"content":[{"id":1',
        tail: '"}]},"jsonrpc":"2.0","id":"abc"}',
      }),
    ).toEqual(['"abc"']);
    expect(idCandidates({ bytes: 1, head: '[1,2', tail: '3]' })).toEqual([]);
  });
});

describe('parseExactJson', () => {
  // Node >= 22 gives JSON.parse the source text of each number; Node 20 does not, so there an
  // integer beyond 2^53 is refused rather than checked rounded. Each Node runs its own half.
  test('keeps integers beyond 2^53 exact where the runtime can, refuses them where it cannot', () => {
    if (sourceTextAccess) {
      expect(
        parseExactJson('{"a":12345678901234567891,"b":1.5,"c":-9007199254740993,"d":7}'),
      ).toEqual({
        a: 12345678901234567891n,
        b: 1.5,
        c: -9007199254740993n,
        d: 7,
      });
    } else {
      expect(() => parseExactJson('{"a":12345678901234567891}')).toThrow(InexactNumberError);
      expect(parseExactJson('{"b":1.5,"d":9007199254740991}')).toEqual({
        b: 1.5,
        d: 9007199254740991,
      });
    }
  });

  test('refuses a number that overflows a double', () => {
    expect(() => parseExactJson('{"a":1e400}')).toThrow(InexactNumberError);
  });
});

describe('parseRunArguments', () => {
  test('reads the options and the command after --', () => {
    expect(
      parseRunArguments([
        '--name',
        'github',
        '--on-unavailable=allow',
        '--upstream-timeout',
        '2.5',
        '--',
        'npx',
        '-y',
        'server',
        '--name',
        'x',
      ]),
    ).toMatchObject({
      name: 'github',
      onUnavailable: 'allow',
      upstreamTimeoutMs: 2500,
      command: 'npx',
      args: ['-y', 'server', '--name', 'x'],
    });
  });

  test('the command may start without --, at the first argument that is not an option', () => {
    expect(parseRunArguments(['--name=fs', 'node', 'server.js', '--root', '/tmp'])).toMatchObject({
      name: 'fs',
      command: 'node',
      args: ['server.js', '--root', '/tmp'],
    });
  });

  test('the session: --session, else ARDEN_SESSION_ID, else none (the gateway makes one per run)', () => {
    const argv = ['--name', 'fs', '--', 'node'];
    expect(parseRunArguments(argv, {}).sessionId).toBeUndefined();
    expect(parseRunArguments(argv, { ARDEN_SESSION_ID: 'run-7' }).sessionId).toBe('run-7');
    expect(
      parseRunArguments(['--session', 'mine', ...argv], { ARDEN_SESSION_ID: 'run-7' }).sessionId,
    ).toBe('mine');
    expect(() => parseRunArguments([`--session=${'x'.repeat(257)}`, ...argv], {})).toThrow(
      /1 to 256 characters/,
    );
  });

  test.each([
    [['--', 'npx'], /--name is required/],
    [['--name', 'a'], /goes after --/],
    [['--name', 'a', '--on-unavailable', 'maybe', '--', 'x'], /block or allow/],
    [['--name', 'a', '--upstream-timeout', '-1', '--', 'x'], /positive number/],
    [
      ['--name', 'a', '--verbose', '--', 'npx'],
      /unknown option --verbose \(the server's own options go after --\)/,
    ],
  ])('refuses %j', (argv, message) => {
    expect(() => parseRunArguments(argv)).toThrow(message);
  });
});
