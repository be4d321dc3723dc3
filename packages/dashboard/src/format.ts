// Formatting of times, durations, money and numbers, in the user's locale.

const numberFormat = new Intl.NumberFormat(undefined);
const compactFormat = new Intl.NumberFormat(undefined, { notation: 'compact' });

/** A count with separators (`12,345`). */
export function formatNumber(value: number): string {
  return numberFormat.format(value);
}

/** A count in short form (`12K`), for chart labels. */
export function formatCompact(value: number): string {
  return compactFormat.format(value);
}

/** US dollars with enough digits for small LLM costs (`$0.0042`, `$12.30`). */
export function formatUsd(value: number): string {
  const digits = value === 0 ? 2 : Math.abs(value) < 0.01 ? 4 : Math.abs(value) < 1 ? 3 : 2;
  return `$${value.toLocaleString(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits })}`;
}

/** A date and time (`24 Nov 2026, 10:46:12`). */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

/** A time of day (`10:46:12`), for timelines. */
export function formatClock(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleTimeString(undefined, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

/** A duration (`45 s`, `3 min 5 s`, `2 h 10 min`, `3 d 4 h`). */
export function formatDuration(milliseconds: number): string {
  const seconds = Math.max(0, Math.floor(milliseconds / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return seconds % 60 ? `${minutes} min ${seconds % 60} s` : `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

/** How long ago (`3 min ago`). */
export function formatAgo(iso: string | null | undefined, now: number): string {
  if (!iso) return '—';
  const time = new Date(iso).getTime();
  if (Number.isNaN(time)) return iso;
  const difference = now - time;
  if (difference < 5_000) return 'just now';
  return `${formatDuration(difference)} ago`;
}

/** An effect or status as words (`requires_approval` → `requires approval`). */
export function words(value: string): string {
  return value.replaceAll('_', ' ');
}

/** `value` for a `<input type="datetime-local">` from an ISO time, in local time. */
export function toLocalInput(iso: string | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const offset = date.getTimezoneOffset() * 60_000;
  return new Date(date.getTime() - offset).toISOString().slice(0, 16);
}

/** An ISO time from a `<input type="datetime-local">` value (local time). */
export function fromLocalInput(value: string): string | undefined {
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}
