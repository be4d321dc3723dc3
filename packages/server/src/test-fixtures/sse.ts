/** One Server-Sent Event as a test sees it. */
export interface StreamEvent {
  id?: string;
  event?: string;
  data?: any;
  /** When it arrived (ms since the epoch). */
  at: number;
}

/** A live admin event stream read in the background. */
export interface EventCollector {
  readonly events: StreamEvent[];
  /** Resolves with the first event (already seen or to come) that matches, or throws. */
  waitFor(match: (event: StreamEvent) => boolean, timeoutMs?: number): Promise<StreamEvent>;
  close(): Promise<void>;
}

/** Opens `GET {url}/api/v1/events` with an admin token and collects what arrives. */
export async function openEvents(url: string, token: string, query = ''): Promise<EventCollector> {
  const controller = new AbortController();
  const response = await fetch(`${url}/api/v1/events${query}`, {
    headers: { authorization: `Bearer ${token}` },
    signal: controller.signal,
  });
  if (response.status !== 200) throw new Error(`event stream answered ${response.status}`);
  const events: StreamEvent[] = [];
  const waiters = new Set<() => void>();
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const reading = (async () => {
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event: StreamEvent = { at: Date.now() };
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) event.id = line.slice(4);
          else if (line.startsWith('event: ')) event.event = line.slice(7);
          else if (line.startsWith('data: ')) event.data = JSON.parse(line.slice(6));
        }
        if (event.event) {
          events.push(event);
          for (const wake of [...waiters]) wake();
        }
        end = buffer.indexOf('\n\n');
      }
    }
  })();
  return {
    events,
    waitFor(match, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = events.find(match);
          if (!found) return false;
          clearTimeout(timer);
          waiters.delete(check as () => void);
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check as () => void);
          reject(
            new Error(
              `no matching event within ${timeoutMs} ms; got ${events.map((event) => event.event).join(', ')}`,
            ),
          );
        }, timeoutMs);
        if (!check()) waiters.add(check as () => void);
      });
    },
    async close() {
      controller.abort();
      await reader.cancel().catch(() => undefined);
      await reading;
    },
  };
}
