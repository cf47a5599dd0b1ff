import { closeSync, openSync, readSync } from 'node:fs';

/**
 * A capture file read front to back in large chunks, so that a capture of gigabytes needs no
 * more memory than its largest record. `take(n)` hands out the next `n` bytes as an offset
 * into `buf`, valid until the next call.
 */
export class ByteReader {
  buf = Buffer.allocUnsafe(1 << 20);
  /** File offset of the next byte `take` hands out. */
  position = 0;
  private start = 0;
  private end = 0;
  private eof = false;
  private readonly fd: number;

  /** Throws the file system's error (ENOENT, EACCES, EISDIR) for the caller to word. */
  constructor(path: string) {
    this.fd = openSync(path, 'r');
  }

  /** Bytes left from `position` that a take could still have, up to `n` (for a truncation's message). */
  available(n: number): number {
    this.fill(n);
    return Math.min(n, this.end - this.start);
  }

  /** The offset in `buf` of the next `n` bytes, or -1 when the file ends first (nothing is consumed then). */
  take(n: number): number {
    this.fill(n);
    if (this.end - this.start < n) return -1;
    const at = this.start;
    this.start += n;
    this.position += n;
    return at;
  }

  /** Skips `n` bytes; false when the file ends first. */
  skip(n: number): boolean {
    while (n > 0) {
      const k = Math.min(n, this.buf.length);
      if (this.take(k) < 0) return false;
      n -= k;
    }
    return true;
  }

  /** Whether the file has no byte left. */
  atEnd(): boolean {
    return this.available(1) === 0;
  }

  close(): void {
    closeSync(this.fd);
  }

  private fill(n: number): void {
    if (this.end - this.start >= n || this.eof) return;
    if (n > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
      this.buf.copy(grown, 0, this.start, this.end);
      this.buf = grown;
    } else {
      this.buf.copy(this.buf, 0, this.start, this.end);
    }
    this.end -= this.start;
    this.start = 0;
    while (this.end - this.start < n) {
      const got = readSync(this.fd, this.buf, this.end, this.buf.length - this.end, null);
      if (got === 0) {
        this.eof = true;
        return;
      }
      this.end += got;
    }
  }
}
