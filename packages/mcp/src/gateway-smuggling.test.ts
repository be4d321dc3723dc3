import { PassThrough } from 'node:stream';
import { createArden } from '@arden/core';
import { describe, expect, test } from 'vitest';
import { McpGateway } from './gateway';

// An upstream that reports every line it receives, so a test sees exactly what reached it.
const echo = `process.stdin.setEncoding('utf8');let b='';process.stdin.on('data',(c)=>{b+=c;let i;while((i=b.indexOf('\\n'))>=0){const l=b.slice(0,i);b=b.slice(i+1);process.stdout.write(JSON.stringify({jsonrpc:'2.0',method:'test/received',params:{line:l}})+'\\n');}});`;

/** Sends `lines` through a gateway whose Arden is unreachable (so every checked call is refused, unless `onUnavailable` is 'allow'); returns what reached the upstream. */
async function reachedUpstream(
  lines: string[],
  onUnavailable: 'block' | 'allow' = 'block',
): Promise<string[]> {
  const arden = createArden({
    apiKey: `arden_test_${'0'.repeat(32)}`,
    apiUrl: 'http://127.0.0.1:9',
    onUnavailable,
    retryAttempts: 0,
    logLevel: 'silent',
  });
  const input = new PassThrough();
  const output = new PassThrough();
  const diagnostics = new PassThrough();
  diagnostics.resume();
  let written = '';
  output.on('data', (chunk: Buffer) => {
    written += chunk.toString('utf8');
  });
  const gateway = new McpGateway({
    name: 'echo',
    command: process.execPath,
    args: ['-e', echo],
    arden,
    input,
    output,
    diagnostics,
  });
  const done = gateway.run();
  for (const line of lines) input.write(`${line}\n`);
  input.write('{"jsonrpc":"2.0","method":"test/last"}\n');
  const deadline = Date.now() + 10_000;
  while (!written.includes('test/last') && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  input.end();
  await done;
  return written
    .split('\n')
    .filter((line) => line.includes('"test/received"'))
    .map((line) => (JSON.parse(line) as { params: { line: string } }).params.line)
    .filter((line) => !line.includes('test/last'));
}

const call = (extra: string) =>
  `{"jsonrpc":"2.0",${extra}"method":"tools/call","params":{"name":"delete_all","arguments":{}}}`;

describe('gateway: no tools/call reaches the upstream unchecked', () => {
  test.each([
    ['a checked call (control)', call('"id":1,')],
    ['a notification-form call (no id)', call('')],
    ['an id of null', call('"id":null,')],
    ['an id of true', call('"id":true,')],
    ['an object id', call('"id":{"a":1},')],
    ['an array id', call('"id":[1],')],
    ['a nested batch', `[${call('"id":2,')}]`.replace(/^/, '[').concat(']')],
  ])('%s', async (_name, line) => {
    expect(await reachedUpstream([line])).toEqual([]);
  });
});

// Go's encoding/json (mcp-go and other Go servers) matches keys case-insensitively, with Unicode
// folding (ſ is s, K is k), and the last match wins: keys that differ only so would let the
// upstream read another method, tool or argument than Arden checked.
describe('gateway: keys that differ only in case are refused', () => {
  test.each([
    [
      'a lone Method',
      '{"jsonrpc":"2.0","id":1,"Method":"tools/call","params":{"name":"delete_all"}}',
    ],
    [
      'method beside METHOD',
      '{"jsonrpc":"2.0","id":1,"method":"ping","METHOD":"tools/call","params":{"name":"delete_all"}}',
    ],
    [
      'paramſ (long s)',
      `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read"},"param\u017f":{"name":"delete_all"}}`,
    ],
    ['Name in params', call('"id":1,').replace('"name"', '"name":"read","Name"')],
    [
      'Path beside path in the arguments',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read","arguments":{"path":"/tmp/a","Path":"/etc/shadow"}}}',
    ],
  ])('%s', async (_name, line) => {
    // onUnavailable 'allow': the call itself would run, so only the refusal keeps it back.
    expect(await reachedUpstream([line], 'allow')).toEqual([]);
  });
});

describe('gateway: what it still relays', () => {
  test('a batch of plain messages without tools/call reaches the upstream unchanged', async () => {
    const batch = '[{"jsonrpc":"2.0","id":5,"method":"ping"},{"jsonrpc":"2.0","method":"x/y"}]';
    expect(await reachedUpstream([batch])).toEqual([batch]);
  });

  test('a call whose keys differ in case only across objects runs when Arden allows it', async () => {
    const line =
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read","arguments":{"path":"/tmp/a","options":{"Path":1}}}}';
    expect(await reachedUpstream([line], 'allow')).toEqual([line]);
  });
});
