// Tool arguments are shown as the agent sent them: the server gives their JSON text, and the
// dashboard lays it out token by token, never through JSON.parse (which would show
// 12345678901234567891 as 12345678901234567000 and 1.0 as 1, and unescape \u00e9).

/** One JSON token with its place in the text. */
export interface JsonToken {
  kind: 'punctuation' | 'string' | 'scalar';
  text: string;
  start: number;
  end: number;
}

/** The tokens of JSON text (whitespace skipped). Tolerant: odd text yields odd tokens, not errors. */
export function tokenize(text: string): JsonToken[] {
  const tokens: JsonToken[] = [];
  let index = 0;
  while (index < text.length) {
    const character = text[index] as string;
    if (character === ' ' || character === '\n' || character === '\r' || character === '\t') {
      index++;
    } else if ('{}[],:'.includes(character)) {
      tokens.push({ kind: 'punctuation', text: character, start: index, end: index + 1 });
      index++;
    } else if (character === '"') {
      let end = index + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      end = Math.min(end + 1, text.length);
      tokens.push({ kind: 'string', text: text.slice(index, end), start: index, end });
      index = end;
    } else {
      let end = index + 1;
      while (end < text.length && !' \n\r\t{}[],:"'.includes(text[end] as string)) end++;
      tokens.push({ kind: 'scalar', text: text.slice(index, end), start: index, end });
      index = end;
    }
  }
  return tokens;
}

/** JSON text laid out with one member per line, every token written as it was sent. */
export function formatJsonText(text: string, indent = 2): string {
  const tokens = tokenize(text);
  let out = '';
  let depth = 0;
  for (let index = 0; index < tokens.length; index++) {
    const token = tokens[index] as JsonToken;
    const next = tokens[index + 1];
    if (token.text === '{' || token.text === '[') {
      const closing = token.text === '{' ? '}' : ']';
      if (token.kind === 'punctuation' && next?.text === closing) {
        out += token.text + closing;
        index++;
      } else {
        depth++;
        out += `${token.text}\n${' '.repeat(depth * indent)}`;
      }
    } else if (token.kind === 'punctuation' && (token.text === '}' || token.text === ']')) {
      depth = Math.max(0, depth - 1);
      out += `\n${' '.repeat(depth * indent)}${token.text}`;
    } else if (token.kind === 'punctuation' && token.text === ',') {
      out += `,\n${' '.repeat(depth * indent)}`;
    } else if (token.kind === 'punctuation' && token.text === ':') {
      out += ': ';
    } else {
      out += token.text;
    }
  }
  return out;
}

/**
 * The top-level entries of an object's or array's JSON text: `[name, value text]`, where the name
 * is the key as written (without its quotes) or `#index`, and the value text is sliced from the
 * original. Undefined when the text is neither.
 */
export function jsonEntries(text: string): [string, string][] | undefined {
  const tokens = tokenize(text);
  const open = tokens[0]?.text;
  if (open !== '{' && open !== '[') return undefined;
  const entries: [string, string][] = [];
  let depth = 0;
  let name = '';
  let valueStart = -1;
  let valueEnd = -1;
  const finish = () => {
    if (valueStart >= 0) entries.push([name, text.slice(valueStart, valueEnd)]);
    valueStart = -1;
  };
  for (let index = 1; index < tokens.length; index++) {
    const token = tokens[index] as JsonToken;
    const punctuation = token.kind === 'punctuation';
    if (
      depth === 0 &&
      punctuation &&
      (token.text === ',' || token.text === '}' || token.text === ']')
    ) {
      finish();
      if (token.text !== ',') break;
      continue;
    }
    if (depth === 0 && open === '{' && valueStart < 0 && token.kind === 'string') {
      const following = tokens[index + 1];
      if (following?.text === ':') {
        name = token.text.slice(1, -1);
        index++;
        continue;
      }
    }
    if (valueStart < 0) {
      valueStart = token.start;
      if (open === '[') name = `#${entries.length}`;
    }
    valueEnd = token.end;
    if (punctuation && (token.text === '{' || token.text === '[')) depth++;
    if (punctuation && (token.text === '}' || token.text === ']')) depth--;
  }
  return entries;
}
