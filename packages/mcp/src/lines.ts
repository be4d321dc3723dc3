/**
 * Newline-delimited message framing for MCP's stdio transport, on raw bytes: each complete line
 * is handed over as it was received (so the gateway can forward it unchanged), and a line over
 * the size limit is dropped without being buffered whole, keeping only its head and tail so that
 * the caller can still find the request it answered.
 */

/** A line over the limit: its size and a little of each end. */
export interface OversizeLine {
  bytes: number;
  head: string;
  tail: string;
}

const keptEnd = 4096;

/** Splits a byte stream into lines (without the `\n`, and without a `\r` before it). */
export class LineSplitter {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private skipping: { bytes: number; head: Buffer; tail: Buffer } | undefined;

  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: Buffer) => void,
    private readonly onOversize: (line: OversizeLine) => void,
  ) {}

  /** Feeds the next chunk of the stream. */
  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(10, start);
      if (newline < 0) {
        this.keep(chunk.subarray(start));
        return;
      }
      this.keep(chunk.subarray(start, newline));
      this.finishLine();
      start = newline + 1;
    }
  }

  private keep(part: Buffer): void {
    if (part.length === 0) return;
    if (this.skipping) {
      this.skip(part);
      return;
    }
    if (this.buffered + part.length > this.maxBytes) {
      const sofar = Buffer.concat(this.chunks);
      this.chunks = [];
      this.buffered = 0;
      this.skipping = { bytes: 0, head: sofar.subarray(0, keptEnd), tail: Buffer.alloc(0) };
      this.skip(sofar.subarray(Math.min(sofar.length, keptEnd)), sofar.length);
      this.skip(part);
      return;
    }
    this.chunks.push(part);
    this.buffered += part.length;
  }

  private skip(part: Buffer, counted = part.length): void {
    const skipping = this.skipping;
    if (!skipping) return;
    skipping.bytes += counted;
    const tail = Buffer.concat([skipping.tail, part]);
    skipping.tail = tail.subarray(Math.max(0, tail.length - keptEnd));
  }

  private finishLine(): void {
    if (this.skipping) {
      const { bytes, head, tail } = this.skipping;
      this.skipping = undefined;
      this.onOversize({ bytes, head: head.toString('utf8'), tail: tail.toString('utf8') });
      return;
    }
    let line = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    this.chunks = [];
    this.buffered = 0;
    if (line.length > 0 && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
    if (line.length > 0) this.onLine(line);
  }
}

const idPattern = '("(?:[^"\\\\]|\\\\.)*"|-?\\d+)';
const leadingId = new RegExp(
  `^\\s*\\{\\s*(?:"jsonrpc"\\s*:\\s*"2\\.0"\\s*,\\s*)?"id"\\s*:\\s*${idPattern}`,
);
const trailingId = new RegExp(`"id"\\s*:\\s*${idPattern}\\s*\\}\\s*$`);

/**
 * The JSON-RPC ids an oversize message may carry at its top level: right after `{` (and
 * `"jsonrpc":"2.0",`) or right before the closing `}` — where JSON-RPC libraries write them.
 * The caller only trusts one that names a request it is waiting for.
 */
export function idCandidates(line: OversizeLine): string[] {
  const found: string[] = [];
  const head = leadingId.exec(line.head);
  if (head?.[1]) found.push(head[1]);
  const tail = trailingId.exec(line.tail);
  if (tail?.[1]) found.push(tail[1]);
  return found;
}
