import { apiPath } from './client';
import { type LiveEvent, liveEventTypes } from './types';

/** The state of the live connection, shown in the header. */
export type LiveState = 'connecting' | 'open' | 'lost';

/** What the live connection needs of `EventSource` (tests pass a fake). */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((event: Event) => void) | null;
  onerror: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  addEventListener(type: string, listener: (event: MessageEvent) => void): void;
  close(): void;
}

/** Creates the event source (`new EventSource(url)` in a browser). */
export type EventSourceFactory = (url: string) => EventSourceLike;

const closed = 2;

/**
 * The admin API's live events (`GET /api/v1/events`, Server-Sent Events) for every page at once.
 * The browser's EventSource reconnects by itself and resumes with `Last-Event-ID`; when it gives
 * up (the server was down, or answered with an error), this reconnects with a growing delay.
 * After any loss, `resync` listeners run so pages can reload what they show, in case events were
 * missed.
 */
export class LiveConnection {
  private source: EventSourceLike | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryDelayMs = 1_000;
  private wasLost = false;
  private stopped = true;
  private currentState: LiveState = 'connecting';
  private readonly eventListeners = new Set<(event: LiveEvent) => void>();
  private readonly stateListeners = new Set<(state: LiveState) => void>();
  private readonly resyncListeners = new Set<() => void>();

  constructor(
    private readonly factory: EventSourceFactory = (url) => new EventSource(url),
    private readonly url: string = apiPath('events'),
    private readonly onGiveUp: () => void = () => {},
  ) {}

  /** The current state. */
  get state(): LiveState {
    return this.currentState;
  }

  /** Opens the connection (again). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open();
  }

  /** Closes the connection for good (sign out). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.source?.close();
    this.source = undefined;
    this.setState('connecting');
  }

  /** Calls `listener` with every live event; returns the unsubscribe function. */
  subscribe(listener: (event: LiveEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Calls `listener` on every state change. */
  onState(listener: (state: LiveState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Calls `listener` after the connection came back from a loss (events may have been missed). */
  onResync(listener: () => void): () => void {
    this.resyncListeners.add(listener);
    return () => this.resyncListeners.delete(listener);
  }

  /** Delivers an event as if it came from the server (used by tests and after local decisions). */
  dispatch(event: LiveEvent): void {
    for (const listener of [...this.eventListeners]) listener(event);
  }

  private resync(): void {
    for (const listener of [...this.resyncListeners]) listener();
  }

  private setState(state: LiveState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    for (const listener of [...this.stateListeners]) listener(state);
  }

  private open(): void {
    const source = this.factory(this.url);
    this.source = source;
    const receive = (message: MessageEvent) => {
      if (this.source !== source) return;
      let event: LiveEvent;
      try {
        event = JSON.parse(String(message.data)) as LiveEvent;
      } catch {
        return;
      }
      if (!event || typeof event.type !== 'string') return;
      this.dispatch(event);
    };
    // The server may name its events (`event: action.created`) or not; listen both ways.
    source.onmessage = receive;
    for (const type of liveEventTypes) source.addEventListener(type, receive);
    // The server could not replay what was missed since `Last-Event-ID`: reload everything.
    source.addEventListener('reset', () => {
      if (this.source === source) this.resync();
    });
    source.onopen = () => {
      if (this.source !== source) return;
      this.retryDelayMs = 1_000;
      this.setState('open');
      if (this.wasLost) {
        this.wasLost = false;
        this.resync();
      }
    };
    source.onerror = () => {
      if (this.source !== source) return;
      this.wasLost = true;
      this.setState('lost');
      if (source.readyState === closed) {
        source.close();
        this.source = undefined;
        if (this.stopped) return;
        this.onGiveUp();
        const delay = this.retryDelayMs;
        this.retryDelayMs = Math.min(this.retryDelayMs * 2, 15_000);
        this.retryTimer = setTimeout(() => {
          if (!this.stopped) this.open();
        }, delay);
      }
    };
  }
}
