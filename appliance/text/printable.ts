/**
 * Text taken from a file or a peer, made safe to print on a terminal or a serial console:
 * nothing in it can move the cursor, change colours, retitle the window or ring the bell, and
 * a line of garbage cannot flood the screen.
 *
 * `decodeUtf8` keeps the bytes of invalid UTF-8 (each as U+DC80-U+DCFF, a lone surrogate, as
 * Python's "surrogateescape" does) so that `printable` can show them as they were.
 */

/** How many characters of quoted text a message shows by default. */
export const QUOTE_MAX = 60;

const ELLIPSIS = '...';

/**
 * `text` with every control escaped and cut to at most `max` UTF-16 units, "..." included:
 * C0 controls, DEL and C1 controls as \xNN (ESC as \x1b, NUL as \x00), bytes that were not
 * UTF-8 as \xNN, other lone surrogates, bidirectional overrides, line and paragraph separators
 * and the byte-order mark as \uNNNN, and the backslash itself as \\ so that what is shown reads
 * back unambiguously. In `quote`, the double quote is escaped too.
 */
export function printable(text: string, max = QUOTE_MAX): string {
  return escape(text, max, false);
}

/** `text` between double quotes, escaped and cut as by `printable`: how messages quote a value. */
export function quote(text: string, max = QUOTE_MAX): string {
  return `"${escape(text, max, true)}"`;
}

function escape(text: string, max: number, inQuotes: boolean): string {
  let out = '';
  // Length of `out` at the last piece boundary that leaves room for the ellipsis.
  let cut = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    let step = 1;
    let piece: string;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && isLow(text.charCodeAt(i + 1))) {
      piece = text.slice(i, i + 2);
      step = 2;
    } else if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
      piece = '\\x' + hex2(c);
    } else if (c >= 0xdc80 && c <= 0xdcff) {
      piece = '\\x' + hex2(c - 0xdc00);
    } else if ((c >= 0xd800 && c <= 0xdfff) || isInvisibleFormat(c)) {
      piece = '\\u' + c.toString(16).padStart(4, '0');
    } else if (c === 0x5c) {
      piece = '\\\\';
    } else if (c === 0x22 && inQuotes) {
      piece = '\\"';
    } else {
      piece = text[i];
    }
    i += step;
    if (out.length <= max - ELLIPSIS.length) cut = out.length;
    out += piece;
    if (out.length > max) return out.slice(0, cut) + ELLIPSIS;
  }
  return out;
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Characters that reorder or hide the text around them, or break a line where none shows. */
function isInvisibleFormat(c: number): boolean {
  return (c >= 0x200b && c <= 0x200f) || (c >= 0x2028 && c <= 0x202e) || (c >= 0x2060 && c <= 0x2069) || c === 0xfeff;
}

function hex2(c: number): string {
  return c.toString(16).padStart(2, '0');
}

const STRICT = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes UTF-8, keeping each byte of an invalid sequence as U+DC00 + byte instead of turning
 * it into U+FFFD, so a message can show which bytes were there. Valid text decodes as usual.
 */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return STRICT.decode(bytes);
  } catch {
    // Invalid somewhere: decode by hand.
  }
  const parts: string[] = [];
  let run = '';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    let cp = -1;
    let n = 1;
    if (b < 0x80) {
      cp = b;
    } else if (b >= 0xc2 && b <= 0xdf) {
      n = 2;
      if (cont(bytes, i + 1)) cp = ((b & 0x1f) << 6) | (bytes[i + 1] & 0x3f);
    } else if (b >= 0xe0 && b <= 0xef) {
      n = 3;
      if (cont(bytes, i + 1) && cont(bytes, i + 2)) {
        cp = ((b & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f);
        // Overlong forms and UTF-16 surrogates are not UTF-8.
        if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) cp = -1;
      }
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 4;
      if (cont(bytes, i + 1) && cont(bytes, i + 2) && cont(bytes, i + 3)) {
        cp = ((b & 0x07) << 18) | ((bytes[i + 1] & 0x3f) << 12) | ((bytes[i + 2] & 0x3f) << 6) | (bytes[i + 3] & 0x3f);
        if (cp < 0x10000 || cp > 0x10ffff) cp = -1;
      }
    }
    if (cp < 0) {
      run += String.fromCharCode(0xdc00 + b);
      i++;
    } else {
      run += String.fromCodePoint(cp);
      i += n;
    }
    if (run.length >= 4096) {
      parts.push(run);
      run = '';
    }
  }
  parts.push(run);
  return parts.join('');
}

function cont(bytes: Uint8Array, i: number): boolean {
  return i < bytes.length && (bytes[i] & 0xc0) === 0x80;
}
