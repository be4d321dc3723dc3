import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadShellParser, PolicyFileError, parsePolicyFile, runPolicyTests } from '@arden/policy';
import ts from 'typescript';
import type { CodeBlock } from './extract.ts';

/** Something wrong with a block, at a place in its Markdown file. */
export interface Problem {
  file: string;
  line: number;
  column: number;
  message: string;
}

/** Where the check works. */
export interface CheckOptions {
  /** The repository root: problems are reported relative to it. */
  root: string;
  /**
   * Where the blocks are written as files. It must lie inside this package, so that their imports
   * resolve to the workspace packages and frameworks this package depends on.
   */
  workDirectory: string;
  /** The folder of the preludes (`NAME.ts`). */
  preludeDirectory: string;
  /** How long a `run` block may take (default 60 s). */
  runTimeoutMs?: number;
}

/** What a check found and did. */
export interface CheckReport {
  problems: Problem[];
  checked: number;
  ran: number;
  skipped: number;
}

// What a user gets from `tsc --init` plus Node's module rules: `strict`, ES modules with
// top-level await, Node's own resolution of the packages' `exports`. Snippets are held to what
// users compile with, not to this repository's stricter settings (noUncheckedIndexedAccess).
const compilerOptions: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  moduleDetection: ts.ModuleDetectionKind.Force,
  // Browser globals only where a prelude asks for them (`/// <reference lib="dom" />`).
  lib: ['lib.es2024.d.ts'],
  types: ['node'],
  strict: true,
  allowJs: true,
  checkJs: true,
  noEmit: true,
  skipLibCheck: true,
  resolveJsonModule: true,
  forceConsistentCasingInFileNames: true,
};

function blockFileName(block: CodeBlock): string {
  const extension = block.language === 'js' ? 'js' : 'ts';
  return `${block.file.replace(/[^\w.-]+/g, '_')}-L${block.line}.${extension}`;
}

function position(
  diagnostic: ts.Diagnostic,
): { fileName: string; line: number; column: number } | undefined {
  if (!diagnostic.file || diagnostic.start === undefined) return undefined;
  const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
  return { fileName: diagnostic.file.fileName, line: line + 1, column: character + 1 };
}

function typeCheck(blocks: CodeBlock[], files: Map<string, CodeBlock>, options: CheckOptions) {
  const problems: Problem[] = [];
  const groups = new Map<string | undefined, string[]>();
  for (const [fileName, block] of files) {
    if (!blocks.includes(block)) continue;
    const group = groups.get(block.prelude) ?? [];
    group.push(fileName);
    groups.set(block.prelude, group);
  }
  // One program per prelude: preludes declare globals, and two of them may name the same one.
  for (const [prelude, fileNames] of groups) {
    const roots = [...fileNames, join(options.preludeDirectory, 'ambient.d.ts')];
    if (prelude !== undefined) {
      const preludeFile = join(options.preludeDirectory, `${prelude}.ts`);
      if (!existsSync(preludeFile)) {
        for (const fileName of fileNames) {
          const block = files.get(fileName) as CodeBlock;
          problems.push({
            file: block.file,
            line: block.line - 1,
            column: 1,
            message: `the prelude "${prelude}" does not exist (expected ${relative(options.root, preludeFile)}).`,
          });
        }
        continue;
      }
      roots.push(preludeFile);
    }
    const program = ts.createProgram(roots, compilerOptions);
    for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
      const message = `error TS${diagnostic.code}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
      const at = position(diagnostic);
      const block = at ? files.get(at.fileName) : undefined;
      if (at && block) {
        problems.push({
          file: block.file,
          line: block.line + at.line - 1,
          column: at.column,
          message,
        });
      } else {
        problems.push({
          file: at ? relative(options.root, at.fileName) : '(typescript)',
          line: at?.line ?? 0,
          column: at?.column ?? 0,
          message,
        });
      }
    }
  }
  return problems;
}

function runBlock(fileName: string, block: CodeBlock, options: CheckOptions): Promise<Problem[]> {
  return new Promise((resolve) => {
    // Self-contained means no Arden server and no keys: the variables a user may have set are
    // not passed on.
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(process.env)) {
      if (value !== undefined && !name.startsWith('ARDEN_') && name !== 'NODE_OPTIONS') {
        env[name] = value;
      }
    }
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', fileName], {
      cwd: options.workDirectory,
      env,
      timeout: options.runTimeoutMs ?? 60_000,
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    child.on('close', (code, signal) => {
      if (code === 0) return resolve([]);
      const why = signal ? `was stopped (${signal}; a "run" block must finish)` : `exited ${code}`;
      resolve([
        {
          file: block.file,
          line: block.line,
          column: 1,
          message: `the block ${why} when run:\n${output.trim()}`,
        },
      ]);
    });
  });
}

function checkPolicyFile(block: CodeBlock): Problem[] {
  try {
    const file = parsePolicyFile(block.code, block.file);
    // Run once to warm up: a cold first evaluation on a busy machine can pass the 10 ms
    // wall-clock budget, which on_error decides; the tests are judged on the second run.
    runPolicyTests(file, block.file);
    return runPolicyTests(file, block.file)
      .filter((result) => !result.passed)
      .map((result) => ({
        file: block.file,
        line: block.line + (result.line ?? 1) - 1,
        column: 1,
        message: result.message,
      }));
  } catch (error) {
    if (!PolicyFileError.isInstance(error)) {
      return [{ file: block.file, line: block.line, column: 1, message: String(error) }];
    }
    return error.issues.map((issue) => ({
      file: block.file,
      line: block.line + issue.line - 1,
      column: issue.column,
      message: issue.message,
    }));
  }
}

/**
 * Type-checks the TypeScript and JavaScript blocks against the packages this package depends on,
 * runs the `run` blocks that type-check, and validates the YAML blocks as policy files (running
 * their `tests:`). Problems are placed at their line in the Markdown file.
 */
export async function checkBlocks(
  blocks: CodeBlock[],
  options: CheckOptions,
): Promise<CheckReport> {
  rmSync(options.workDirectory, { recursive: true, force: true });
  mkdirSync(options.workDirectory, { recursive: true });
  // Policy files may use shell.commands, whose parser loads asynchronously.
  if (blocks.some((block) => block.language === 'yaml')) await loadShellParser();
  const problems: Problem[] = [];
  const files = new Map<string, CodeBlock>();
  let skipped = 0;
  let checked = 0;
  for (const block of blocks) {
    if (block.mode === 'skip') {
      skipped++;
      continue;
    }
    checked++;
    if (block.language === 'yaml') {
      problems.push(...checkPolicyFile(block));
      continue;
    }
    const fileName = join(options.workDirectory, blockFileName(block));
    writeFileSync(fileName, `${block.code}\n`);
    files.set(fileName, block);
  }
  const typeProblems = typeCheck(blocks, files, options);
  problems.push(...typeProblems);
  let ran = 0;
  for (const [fileName, block] of files) {
    if (block.mode !== 'run') continue;
    if (typeProblems.some((problem) => problem.file === block.file)) continue;
    ran++;
    problems.push(...(await runBlock(fileName, block, options)));
  }
  problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
  return { problems, checked, ran, skipped };
}

/** `file:line:column - message`, the form editors and CI annotate. */
export function formatProblem(problem: Problem): string {
  return `${problem.file}:${problem.line}:${problem.column} - ${problem.message}`;
}
