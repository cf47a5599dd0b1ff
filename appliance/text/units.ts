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

/**
 * Shortens an endpoint ("host:port", "[IPv6]:port", or an address alone) to `width` columns,
 * keeping its port and brackets: an IPv6 address loses the groups in its middle, since both
 * its prefix and its interface identifier tell hosts apart, a name or an IPv4 address its end.
 * "~" marks the cut; the result may be a little shorter than `width` (whole groups). An IPv4 endpoint (21 columns at most) fits any width the dashboard gives one.
 */
export function fitEndpoint(text: string, width: number): string {
  if (text.length <= width) return text;
  let host = text;
  let open = '';
  let close = '';
  let port = '';
  const end = text.startsWith('[') ? text.indexOf(']') : -1;
  if (end > 0) {
    [open, host, close, port] = ['[', text.slice(1, end), ']', text.slice(end + 1)];
  } else if (text.includes(':') && text.indexOf(':') === text.lastIndexOf(':')) {
    [host, port] = [text.slice(0, text.indexOf(':')), text.slice(text.indexOf(':'))];
  }
  const room = width - open.length - close.length - port.length;
  if (room < 3 || !/^(:\d+)?$/.test(port)) return truncate(text, width);
  if (!host.includes(':')) return truncate(host, room) + port;
  // Whole groups of each end, "2001:db8:~:4321:8765": the first half, the last in what is left, then the first again.
  const first = (n: number) => {
    const h = host.slice(0, n);
    return h.includes(':') ? h.slice(0, h.lastIndexOf(':') + 1) : h;
  };
  let tail = host.slice(host.length - (room - 1 - first(Math.floor((room - 1) / 2)).length));
  if (tail.includes(':')) tail = tail.slice(tail.indexOf(':'));
  return `${open}${first(room - 1 - tail.length)}~${tail}${close}${port}`;
}
