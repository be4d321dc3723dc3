// Runs after tsup (`pnpm build`). `ai` 7 ships ES modules only, so a CommonJS declaration file
// that imports its types needs `resolution-mode: "import"`; without it, a CommonJS project with
// `module: node16` (or nodenext) and no `skipLibCheck` gets TS1479 in dist/index.d.cts.
// rollup-plugin-dts (tsup's `dts`) drops the attribute from the source, so it is added here.
import { readFileSync, writeFileSync } from 'node:fs';

const esmOnly = ['ai'];
const file = new URL('../dist/index.d.cts', import.meta.url);
const before = readFileSync(file, 'utf8');
let count = 0;
const after = before.replace(
  /^(import|export) (type )?(\{[^}]*\}) from '([^']+)';$/gm,
  (line, keyword, _type, names, specifier) => {
    if (!esmOnly.includes(specifier)) return line;
    count++;
    return `${keyword} type ${names} from '${specifier}' with { 'resolution-mode': 'import' };`;
  },
);
if (count === 0 || /from 'ai';$/m.test(after)) {
  throw new Error(
    `scripts/cjs-types.mjs: expected to rewrite the imports from "ai" in ${file.pathname}, found ${count}. Did the declaration bundle change shape?`,
  );
}
writeFileSync(file, after);
