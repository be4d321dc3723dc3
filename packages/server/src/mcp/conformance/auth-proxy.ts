// Test-only. The one thing between `@modelcontextprotocol/conformance` and Arden's HTTP
// gateway: the suite's scenarios connect with a bare Streamable HTTP transport and have no option
// for a header, while `/mcp/<name>` needs an agent key — which any real client sends. This proxy
// adds `Authorization: Bearer <agent key>` to each request and changes nothing else: method,
// path, query, every other header (Host and Origin included) and the body go to the gateway as
// the suite sent them, and the gateway's status, headers and body (SSE streams as they arrive)
// go back unchanged.
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AuthProxy {
  /** The proxy's origin (`http://127.0.0.1:<port>`); paths are the gateway's. */
  origin: string;
  /** How many requests it forwarded. */
  forwarded(): number;
  close(): Promise<void>;
}

/** Forwards every request to `target` (an `http://` origin) with the agent key added. */
export async function startAuthProxy(target: string, agentKey: string): Promise<AuthProxy> {
  const to = new URL(target);
  let count = 0;
  const server: Server = createServer((incoming, outgoing) => {
    count += 1;
    const upstream = httpRequest(
      {
        host: to.hostname,
        port: to.port,
        method: incoming.method,
        path: incoming.url,
        headers: { ...incoming.headers, authorization: `Bearer ${agentKey}` },
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        outgoing.flushHeaders();
        answer.pipe(outgoing);
      },
    );
    upstream.on('error', (error) => {
      if (!outgoing.headersSent) outgoing.writeHead(502, { 'content-type': 'text/plain' });
      outgoing.end(`auth proxy: ${error.message}`);
    });
    // The suite closed its side (e.g. cancelled an SSE read): close ours, as a direct client would.
    outgoing.on('close', () => upstream.destroy());
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    forwarded: () => count,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
