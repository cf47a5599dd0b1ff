/**
 * The bytes one client sent on a TCP connection, in sequence order from its SYN's ISN
 * (RFC 9293 3.4), as the appliance's client leg collects them: a retransmission or the
 * overlapping part of a segment is taken once (the first copy wins), a segment beyond a gap
 * waits until the gap is filled. Kept up to `limit` bytes only: the SOCKS handshake's longest,
 * all that replay reads. Per connection, not per packet: a copy is made only of a segment that
 * arrives out of order.
 */
export class ClientStream {
  readonly bytes: Buffer;
  /** How many bytes from the start are known, in order. */
  length = 0;
  /** Segments whose every byte was had before. */
  retransmitted = 0;
  /** Segments that came beyond a gap and waited for it. */
  outOfOrder = 0;
  private pending: { at: number; data: Uint8Array }[] = [];

  constructor(readonly isn: number, readonly limit: number) {
    this.bytes = Buffer.alloc(limit);
  }

  /** Takes a segment's payload `b[off, off + n)` sent with sequence number `seq`; true when `length` grew. */
  add(seq: number, b: Uint8Array, off: number, n: number): boolean {
    if (n === 0 || this.length >= this.limit) return false;
    const at = (seq - this.isn - 1) | 0;
    if (at + n <= this.length) {
      this.retransmitted++;
      return false;
    }
    if (at > this.length) {
      if (at < this.limit) {
        this.outOfOrder++;
        this.pending.push({ at, data: b.slice(off, off + Math.min(n, this.limit - at)) });
      }
      return false;
    }
    this.append(b, off + (this.length - at), n - (this.length - at));
    this.drain();
    return true;
  }

  /** Whether bytes wait beyond a gap that the capture never filled. */
  get hasGap(): boolean {
    return this.pending.length > 0;
  }

  private append(b: Uint8Array, off: number, n: number): void {
    const k = Math.min(n, this.limit - this.length);
    this.bytes.set(b.subarray(off, off + k), this.length);
    this.length += k;
  }

  /** Segments that waited and now follow in order. */
  private drain(): void {
    for (let moved = true; moved && this.pending.length > 0;) {
      moved = false;
      for (let i = 0; i < this.pending.length; i++) {
        const s = this.pending[i];
        if (s.at > this.length) continue;
        this.pending.splice(i, 1);
        if (s.at + s.data.length > this.length) this.append(s.data, this.length - s.at, s.data.length - (this.length - s.at));
        moved = true;
        break;
      }
    }
  }
}
