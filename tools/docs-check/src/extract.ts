/** How a block is checked. */
export type BlockMode = 'check' | 'run' | 'skip';

/** A fenced code block of a Markdown file, with what its markers say. */
export interface CodeBlock {
  /** The Markdown file, relative to the repository root. */
  file: string;
  /** 1-based line of the block's first line of code. */
  line: number;
  language: 'ts' | 'js' | 'yaml';
  code: string;
  mode: BlockMode;
  /** The prelude (a file of `preludes/`) whose declarations the block can use. */
  prelude: string | undefined;
  /** Why the block is skipped. */
  skipReason?: string;
}

/** A marker that does not parse: reported like a failing block. */
export interface MarkerProblem {
  file: string;
  line: number;
  message: string;
}

const languages: Record<string, CodeBlock['language']> = {
  ts: 'ts',
  typescript: 'ts',
  js: 'js',
  javascript: 'js',
  yaml: 'yaml',
  yml: 'yaml',
};

const markerPattern = /^\s*<!--\s*docs-check:\s*(.*?)\s*-->\s*$/;
const fencePattern = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/;

/**
 * Finds the TypeScript, JavaScript and YAML blocks of `markdown` and reads the markers above them
 * (see this tool's README):
 * `<!-- docs-check: prelude NAME -->` applies `preludes/NAME.d.ts` to every later block of the file
 * (`prelude none` stops it); `<!-- docs-check: run -->` right above a block also runs it;
 * `<!-- docs-check: skip REASON -->` right above a block leaves it out.
 */
export function extractBlocks(
  markdown: string,
  file: string,
): { blocks: CodeBlock[]; problems: MarkerProblem[] } {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  const problems: MarkerProblem[] = [];
  let prelude: string | undefined;
  let pending: { mode: BlockMode; skipReason?: string; line: number } | undefined;
  for (let index = 0; index < lines.length; index++) {
    const text = lines[index] ?? '';
    const marker = markerPattern.exec(text);
    if (marker) {
      const [word, ...rest] = (marker[1] ?? '').split(/\s+/);
      const argument = rest.join(' ');
      if (word === 'prelude' && /^[\w-]+$/.test(argument)) {
        prelude = argument === 'none' ? undefined : argument;
      } else if (word === 'run' && argument === '') {
        pending = { mode: 'run', line: index + 1 };
      } else if (word === 'skip' && argument !== '') {
        pending = { mode: 'skip', skipReason: argument, line: index + 1 };
      } else {
        problems.push({
          file,
          line: index + 1,
          message: `unknown docs-check marker "${marker[1]}": use "prelude NAME", "run" or "skip REASON" (tools/docs-check/README.md).`,
        });
      }
      continue;
    }
    const fence = fencePattern.exec(text);
    if (!fence) {
      if (pending && text.trim() !== '') {
        problems.push({
          file,
          line: pending.line,
          message: 'a docs-check "run" or "skip" marker must stand right above a code block.',
        });
        pending = undefined;
      }
      continue;
    }
    const indent = fence[1] ?? '';
    const close = fence[2] ?? '```';
    const start = index + 1;
    let end = start;
    while (end < lines.length && !(lines[end] ?? '').trim().startsWith(close)) end++;
    const language = languages[(fence[3] ?? '').toLowerCase()];
    if (language) {
      const code = lines
        .slice(start, end)
        .map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line))
        .join('\n');
      const block: CodeBlock = {
        file,
        line: start + 1,
        language,
        code,
        mode: pending?.mode ?? 'check',
        prelude,
      };
      if (pending?.skipReason !== undefined) block.skipReason = pending.skipReason;
      blocks.push(block);
    } else if (pending) {
      problems.push({
        file,
        line: pending.line,
        message: `a docs-check marker stands above a "${fence[3] || 'plain'}" block, which is not checked.`,
      });
    }
    pending = undefined;
    index = end;
  }
  return { blocks, problems };
}
