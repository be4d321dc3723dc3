// The transports of the agent API client. `HttpClient` (http.ts) adds retries and errors on top.

/** One request, as the client sends it. */
export interface TransportRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body: string | undefined;
  timeoutMs: number;
}

/** One answer: its status, headers and body text. */
export interface TransportResponse {
  status: number;
  header(name: string): string | undefined;
  text: string;
}

/** Sends requests; `close` releases pooled connections. */
export type Transport = ((request: TransportRequest) => Promise<TransportResponse>) & {
  close?: () => void;
};

/** A request that ran past its time limit. */
export class TimeoutError extends Error {}
