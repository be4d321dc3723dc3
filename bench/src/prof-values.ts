// Temporary: CPU per whole check by value limit (not committed).
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from '@arden/server';
import { BODY_LIMIT, countValues, shapes } from './benchmarks/adversarial-policy.ts';

const limits = (process.env.LIMITS ?? '16384,32768').split(',').map(Number);
const only = process.env.SHAPES?.split('|');
const rounds = Number(process.env.ROUNDS ?? 8);
const cpu = () => {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1000;
};
const dataDir = mkdtempSync(join(tmpdir(), 'arden-prof-'));
const server = await createServer({ dataDir, logLevel: 'error', host: '127.0.0.1', checkValueLimit: 1e9 });
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const url = await server.listen(0);
const bench = await server.agents.createAgent({ name: 'bench', defaultAction: 'allow', webhookUrl: null });
const { key } = await server.agents.createKey(bench.id, 'live');
const post = (body: string) =>
  new Promise<number>((resolve, reject) => {
    const out = request(new URL('/policy/check', url), { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-api-key': key } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    out.on('error', reject);
    out.end(body);
  });
const small = JSON.stringify({ tool_name: 'crm.lookup', args: [], kwargs: { id: 1 } });
for (let i = 0; i < 200; i++) await post(small);
const table: Record<string, Record<string, string>> = {};
for (const shape of shapes) {
  if (only && !only.some((name) => shape.name.includes(name))) continue;
  await server.policies.saveSet(bench.id, 'live', [shape.policy]);
  for (const limit of limits) {
    const kwargs = shape.args({ bytes: BODY_LIMIT - 1024, values: limit - 16 });
    const body = JSON.stringify({ tool_name: 't', args: [], kwargs });
    const values = countValues({ tool_name: 't', args: [], kwargs });
    let total = 0;
    let worstWall = 0;
    const walls: number[] = [];
    for (let r = 0; r < rounds; r++) {
      globalThis.gc?.();
      const c = cpu();
      const w = performance.now();
      const status = await post(body);
      const wall = performance.now() - w;
      walls.push(wall);
      worstWall = Math.max(worstWall, wall);
      total += cpu() - c;
      if (status !== 200) throw new Error(`status ${status}`);
    }
    (table[shape.name] ??= {})[limit] = `${(total / rounds).toFixed(1)}/${Math.min(...walls).toFixed(1)}/${worstWall.toFixed(0)} (${(body.length / 1024).toFixed(0)}K,${values})`;
  }
}
console.table(table);
agent.destroy();
await server.close();
rmSync(dataDir, { recursive: true, force: true });
