// Draws one trace as an SVG timeline (a waterfall, as Jaeger or Tempo show it): one row per span,
// children under their parent, a bar from start to end, events as ticks. Input: spans decoded
// from OTLP/HTTP JSON (tools/otlp-receiver).

export interface TimelineSpan {
  service: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  startNanos: bigint;
  endNanos: bigint;
  attributes: Record<string, string | number | boolean>;
  events: { name: string; timeNanos?: bigint }[];
  status: { code: number };
}

const colours = ['#4f7cff', '#f28c28', '#2aa876', '#b455d6'];
const escapeXml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Orders spans depth-first from the root, each with its depth. */
function tree(spans: TimelineSpan[]): { span: TimelineSpan; depth: number }[] {
  const ids = new Set(spans.map((span) => span.spanId));
  const children = new Map<string | undefined, TimelineSpan[]>();
  for (const span of spans) {
    const parent = span.parentSpanId && ids.has(span.parentSpanId) ? span.parentSpanId : undefined;
    children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const ordered: { span: TimelineSpan; depth: number }[] = [];
  const visit = (parent: string | undefined, depth: number) => {
    const list = (children.get(parent) ?? []).sort((a, b) =>
      a.startNanos < b.startNanos ? -1 : a.startNanos > b.startNanos ? 1 : 0,
    );
    for (const span of list) {
      ordered.push({ span, depth });
      visit(span.spanId, depth + 1);
    }
  };
  visit(undefined, 0);
  return ordered;
}

/** The SVG of one trace's spans. */
export function renderTraceSvg(spans: TimelineSpan[], title: string): string {
  const rows = tree(spans);
  // Times are bigint nanoseconds (Math.min/max take numbers only).
  let start = spans[0]?.startNanos ?? 0n;
  let end = 0n;
  for (const span of spans) {
    if (span.startNanos < start) start = span.startNanos;
    if (span.endNanos > end) end = span.endNanos;
  }
  const totalMs = Number(end - start) / 1e6 || 1;
  const labelWidth = 430;
  const chartWidth = 620;
  const rowHeight = 26;
  const top = 64;
  const width = labelWidth + chartWidth + 110;
  const height = top + rows.length * rowHeight + 56;
  const services = [...new Set(spans.map((span) => span.service))];
  const x = (nanos: bigint) => labelWidth + (Number(nanos - start) / 1e6 / totalMs) * chartWidth;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="ui-sans-serif, system-ui, sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="24" font-size="15" font-weight="600">${escapeXml(title)}</text>`,
  ];
  services.forEach((service, index) => {
    const colour = colours[index % colours.length];
    parts.push(
      `<rect x="${16 + index * 200}" y="36" width="12" height="12" fill="${colour}"/>`,
      `<text x="${34 + index * 200}" y="46">${escapeXml(service)}</text>`,
    );
  });
  for (let tick = 0; tick <= 4; tick++) {
    const tx = labelWidth + (tick / 4) * chartWidth;
    parts.push(
      `<line x1="${tx}" y1="${top - 6}" x2="${tx}" y2="${top + rows.length * rowHeight}" stroke="#e3e3e8"/>`,
      `<text x="${tx}" y="${top + rows.length * rowHeight + 16}" text-anchor="middle" fill="#666">${((totalMs * tick) / 4).toFixed(0)} ms</text>`,
    );
  }
  rows.forEach(({ span, depth }, index) => {
    const y = top + index * rowHeight;
    const colour = colours[services.indexOf(span.service) % colours.length];
    const x1 = x(span.startNanos);
    const barWidth = Math.max(2, x(span.endNanos) - x1);
    const durationMs = Number(span.endNanos - span.startNanos) / 1e6;
    const decision = span.attributes['arden.decision'] ?? span.attributes['arden.approval.status'];
    const label = `${span.name}${decision ? `  [${decision}]` : ''}`;
    if (index % 2 === 0) {
      parts.push(`<rect x="0" y="${y}" width="${width}" height="${rowHeight}" fill="#f7f7fa"/>`);
    }
    parts.push(
      `<text x="${16 + depth * 14}" y="${y + 17}"${span.status.code === 2 ? ' fill="#c62828"' : ''}>${escapeXml(label)}</text>`,
      `<rect x="${x1}" y="${y + 6}" width="${barWidth}" height="${rowHeight - 12}" rx="2" fill="${colour}"/>`,
      `<text x="${x1 + barWidth + 6}" y="${y + 17}" fill="#444">${durationMs < 10 ? durationMs.toFixed(2) : durationMs.toFixed(0)} ms</text>`,
    );
    for (const event of span.events) {
      if (event.timeNanos === undefined) continue;
      const ex = x(event.timeNanos);
      parts.push(
        `<path d="M ${ex} ${y + 2} l 5 11 l -5 11 l -5 -11 z" fill="#222"><title>${escapeXml(event.name)}</title></path>`,
      );
    }
  });
  parts.push(
    `<text x="16" y="${height - 12}" fill="#666">Drawn by bench/src/trace-picture.ts from the spans a local OTLP/HTTP receiver got from the agent and the server; ◆ = span event (arden.approval.decided).</text>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}
