import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { checkBlocks, formatProblem } from './check.ts';
import { extractBlocks } from './extract.ts';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const workRoot = join(packageRoot, '.generated-test');
let runs = 0;

/** Checks the blocks of `markdown` as if it were `file`; returns the formatted problems. */
async function check(markdown: string, file = 'docs/example.md') {
  const { blocks, problems } = extractBlocks(markdown, file);
  expect(problems).toEqual([]);
  const report = await checkBlocks(blocks, {
    root: join(packageRoot, '..', '..'),
    workDirectory: join(workRoot, String(runs++)),
    preludeDirectory: join(packageRoot, 'preludes'),
    runTimeoutMs: 20_000,
  });
  return { ...report, lines: report.problems.map(formatProblem) };
}

afterAll(() => {
  rmSync(workRoot, { recursive: true, force: true });
});

const fence = '```';

describe('extractBlocks', () => {
  it('finds ts, js and yaml blocks with the line of their first line of code', () => {
    const markdown = [
      '# Title', //                                  1
      '<!-- docs-check: prelude ai-sdk -->', //     2
      `${fence}ts`, //                              3
      'const a = 1;', //                            4
      fence, //                                     5
      `${fence}sh`, //                              6
      'pnpm install', //                            7
      fence, //                                     8
      '<!-- docs-check: skip pseudo-code -->', //   9
      `${fence}typescript`, //                      10
      'whatever', //                                11
      fence, //                                     12
      '<!-- docs-check: prelude none -->', //       13
      '<!-- docs-check: run -->', //                14
      `  ${fence}js`, //                            15
      '  console.log(1);', //                       16
      `  ${fence}`, //                              17
    ].join('\n');
    const { blocks, problems } = extractBlocks(markdown, 'docs/x.md');
    expect(problems).toEqual([]);
    expect(
      blocks.map(({ line, language, mode, prelude, code }) => ({
        line,
        language,
        mode,
        prelude,
        code,
      })),
    ).toEqual([
      { line: 4, language: 'ts', mode: 'check', prelude: 'ai-sdk', code: 'const a = 1;' },
      { line: 11, language: 'ts', mode: 'skip', prelude: 'ai-sdk', code: 'whatever' },
      { line: 16, language: 'js', mode: 'run', prelude: undefined, code: 'console.log(1);' },
    ]);
  });

  it('reports an unknown marker and a marker that stands above no block', () => {
    const { problems } = extractBlocks(
      ['<!-- docs-check: rnu -->', `${fence}ts`, fence, '<!-- docs-check: run -->', 'text'].join(
        '\n',
      ),
      'docs/x.md',
    );
    expect(problems.map((problem) => `${problem.line}: ${problem.message}`)).toEqual([
      expect.stringMatching(/^1: unknown docs-check marker "rnu"/),
      expect.stringMatching(/^4: a docs-check "run" or "skip" marker must stand right above/),
    ]);
  });
});

describe('checkBlocks', () => {
  it('reports the AI SDK route handler without await convertToModelMessages at its line', async () => {
    // The route handler as docs/integrations/ai-sdk.md had it: `convertToModelMessages` returns
    // a Promise in AI SDK 7.
    const markdown = [
      '# AI SDK',
      '<!-- docs-check: prelude ai-sdk -->',
      '',
      `${fence}ts`,
      "import { withSession } from '@arden/core';",
      "import { convertToModelMessages, streamText, type UIMessage } from 'ai';",
      '',
      'export async function POST(request: Request) {',
      '  const { id, messages } = (await request.json()) as { id: string; messages: UIMessage[] };',
      '  return withSession(id, () =>',
      '    streamText({ model, tools, messages: convertToModelMessages(messages) }).toUIMessageStreamResponse(),',
      '  );',
      '}',
      fence,
    ].join('\n');
    const { lines } = await check(markdown, 'docs/integrations/ai-sdk.md');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^docs\/integrations\/ai-sdk\.md:11:32 - error TS2740: Type 'Promise<ModelMessage\[\]>'/,
    );
  });

  it('reports the OpenAI loop whose messages were inferred as plain objects', async () => {
    const markdown = [
      '<!-- docs-check: prelude openai -->',
      `${fence}ts`,
      "import OpenAI from 'openai';",
      'const client = new OpenAI();',
      "const messages = [{ role: 'user', content: 'Refund ada $150' }];",
      "const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, tools });",
      'messages.push(completion.choices[0].message);',
      fence,
    ].join('\n');
    const { lines } = await check(markdown);
    expect(lines.map((line) => line.split(' - ')[0])).toEqual([
      'docs/example.md:6:81',
      'docs/example.md:7:15',
    ]);
  });

  it('passes a correct block, and runs a "run" block: a throw fails it', async () => {
    const markdown = [
      '<!-- docs-check: run -->',
      `${fence}ts`,
      "import { compilePolicies, evaluate } from '@arden/policy';",
      "const set = compilePolicies([{ name: 'no', tool: 'x', action: 'block' }]);",
      "if (evaluate(set, { tool: 'x', args: {} }, 'allow').effect !== 'allow') throw new Error('decided block');",
      fence,
      `${fence}ts`,
      "import { compilePolicies } from '@arden/policy';",
      "compilePolicies([{ name: 'ok', tool: 'x', action: 'allow' }]);",
      fence,
    ].join('\n');
    const { lines, checked, ran } = await check(markdown);
    expect({ checked, ran }).toEqual({ checked: 2, ran: 1 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^docs\/example\.md:3:1 - the block exited 1 when run:\n.*decided block/s,
    );
  });

  it('validates YAML blocks as policy files and runs their tests', async () => {
    const markdown = [
      'Text',
      `${fence}yaml`,
      'policies:',
      '  - name: drops',
      '    tool: db.drop_table',
      '    action: block',
      '  - name: broken',
      '    tool: x',
      "    rules: [{ if: 'args.amount >', then: allow }]",
      fence,
      `${fence}yaml`,
      'policies:',
      '  - { name: drops, tool: db.drop_table, action: block }',
      'tests:',
      '  - tool: db.drop_table',
      '    expect: allow',
      fence,
    ].join('\n');
    const { lines } = await check(markdown);
    expect(lines).toEqual([
      expect.stringMatching(/^docs\/example\.md:9:\d+ - .*if/),
      expect.stringMatching(/^docs\/example\.md:15:1 - .*expected allow, decided block/),
    ]);
  });

  it('names a prelude that does not exist', async () => {
    const { lines } = await check(
      ['<!-- docs-check: prelude nope -->', `${fence}ts`, 'x;', fence].join('\n'),
    );
    expect(lines).toEqual([expect.stringMatching(/the prelude "nope" does not exist/)]);
  });
});
