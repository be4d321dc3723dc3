/// <reference lib="dom" />
// The reader's own page code in the dashboard-events snippet.
declare global {
  function show(action: unknown): void;
  function reloadEverything(): void;
}

export {};
