/** Sizes, rates and durations as people read them, for `ctl` and the dashboard. */

const UNITS = ['', 'K', 'M', 'G', 'T', 'P'];

/** 1234567 -> "1.2M"; below 1000 the number itself. */
export function formatCount(n: number): string {
  let i = 0;
  while (Math.abs(n) >= 1000 && i < UNITS.length - 1) {
    n /= 1000;
    i++;
  }
  return i === 0 ? String(Math.round(n)) : `${n >= 100 ? n.toFixed(0) : n.toFixed(1)}${UNITS[i]}`;
}

/** Bytes in binary units: 1536 -> "1.5KiB". */
export function formatBytes(n: number): string {
  let i = 0;
  while (Math.abs(n) >= 1024 && i < UNITS.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(n)}B` : `${n >= 100 ? n.toFixed(0) : n.toFixed(1)}${UNITS[i]}iB`;
}

/** Milliseconds as a latency: "0.08ms", "12.3ms", "1.24s"; -1 (not measured) as "-". */
export function formatMs(ms: number): string {
  if (ms < 0) return '-';
  if (ms < 1) return `${ms.toFixed(2)}ms`;
  if (ms < 1000) return `${ms < 100 ? ms.toFixed(1) : ms.toFixed(0)}ms`;
  return `${(ms / 1000).toFixed(2)}s`;
}

/** Seconds -> "45s", "12m05s", "3h07m", "2d04h". */
export function formatDuration(s: number): string {
  s = Math.max(0, Math.floor(s));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

/** Shortens text to `width` columns, marking the cut with "~" (plain ASCII for serial consoles). */
export function truncate(text: string, width: number): string {
  if (text.length <= width) return text;
  if (width <= 1) return text.slice(0, width);
  return text.slice(0, width - 1) + '~';
}
