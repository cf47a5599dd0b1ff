/**
 * What every wire view is: a window on a buffer at an offset, re-pointed at each packet with
 * `wrap`, so that one view object serves every packet and the per-packet path allocates nothing.
 * Getters and setters of the subclasses read and write at fixed offsets from `off`.
 */
export class WireView {
  buf: Uint8Array = new Uint8Array(0);
  off = 0;
  /** Bytes available from `off`. */
  len = 0;

  wrap(buf: Uint8Array, off: number, len: number): this {
    this.buf = buf;
    this.off = off;
    this.len = len;
    return this;
  }
}
