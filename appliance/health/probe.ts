import type { ServerCheck, ServerRecord } from '../config/tables';
import type { FlowContext } from '../flow/context';
import { D4, D5, replyLength, speaks } from '../flow/dialect';
import { formatEndpoint } from '../divert/endpoint';
import { writeAddress } from '../addr/address';
import { ACK, FIN, PSH, RST, SYN, type TcpView } from '../wire/tcp';

/** Seconds before the last segment is sent again (RFC 6298's initial RTO is 1 s). */
const RTO = 1;
/** What a probe keeps of the server's bytes: the longest SOCKS reply, and an HTTP status line. */
const INBOX = 512;

const enum Step {
  Syn,
  Greeting,
  Auth,
  Connect,
  Http,
  Done,
}

/**
 * One active check through a SOCKS server (HAProxy's check-via-socks4, moproxy's probes): a TCP
 * connection from the appliance's own address on the server's segment, the SOCKS handshake in
 * the dialect the server speaks (SOCKS5, with the appliance's own RFC 1929 login where
 * servers.ini gives one, else SOCKS4), a CONNECT to the check's target and, with `check_http`,
 * an HTTP/1.0 request whose status line is checked; then a RST at the exact sequence number.
 *
 * A TCP client of the smallest kind (RFC 9293): one request in flight at a time, sent again
 * every RTO until the check's timeout; only in-order bytes are taken. `result` stays
 * undefined while the probe runs, then says why it failed, or '' when it passed.
 */
export class Probe {
  result: string | undefined;
  readonly started: number;
  /** Milliseconds from the SYN to the verdict, on a clock finer than the ticks'. */
  latencyMs = 0;
  private readonly startedMs = performance.now();
  private step = Step.Syn;
  private readonly isn: number;
  private sndNxt: number;
  private rcvNxt = 0;
  /** The request in flight (what the last segment carried), sent again until acknowledged. */
  private pending: Buffer | null = null;
  private pendingFlags = SYN;
  private sentAt = 0;
  private readonly inbox = Buffer.alloc(INBOX);
  private inboxLength = 0;
  private readonly socks5: boolean;

  constructor(
    private readonly cx: FlowContext,
    readonly server: number,
    readonly port: number,
    private readonly check: ServerCheck,
    now: number,
  ) {
    this.started = now;
    this.isn = cx.builder.isn();
    this.sndNxt = this.isn;
    this.socks5 = (speaks(this.srv) & D5) !== 0;
    this.send(SYN, null, now);
  }

  private get srv(): ServerRecord {
    return this.cx.stages.servers[this.server];
  }

  /** A segment from the server to this probe's port. */
  receive(tcp: TcpView, now: number): void {
    if (this.result !== undefined) return;
    const flags = tcp.flags;
    if (flags & RST) {
      this.end(`reset by the server during ${STEP_NAMES[this.step]}`, now, false);
      return;
    }
    if (this.step === Step.Syn) {
      if ((flags & (SYN | ACK)) !== (SYN | ACK) || tcp.ack !== ((this.isn + 1) >>> 0)) return;
      this.rcvNxt = (tcp.seq + 1) >>> 0;
      this.sndNxt = (this.isn + 1) >>> 0;
      this.pending = null;
      this.next(this.socks5 ? Step.Greeting : Step.Connect, now);
      return;
    }
    if (this.pending !== null && (flags & ACK) && tcp.ack === ((this.sndNxt + this.pending.length) >>> 0)) {
      this.sndNxt = tcp.ack;
      this.pending = null;
    }
    const n = tcp.payloadLength;
    if (n > 0 && tcp.seq === this.rcvNxt) {
      const take = Math.min(n, INBOX - this.inboxLength);
      this.inbox.set(tcp.buf.subarray(tcp.payloadOffset, tcp.payloadOffset + take), this.inboxLength);
      this.inboxLength += take;
      this.rcvNxt = (this.rcvNxt + n) >>> 0;
    }
    if (flags & FIN && ((tcp.seq + n) >>> 0) === this.rcvNxt) this.rcvNxt = (this.rcvNxt + 1) >>> 0;
    if (n > 0 || flags & FIN) this.segment(ACK, null, now);
    this.examine(now, (flags & FIN) !== 0);
  }

  /** The clock: a lost segment again, or the timeout. */
  tick(now: number): void {
    if (this.result !== undefined) return;
    if (now - this.started >= this.check.timeout) {
      this.end(`no answer within ${this.check.timeout} s during ${STEP_NAMES[this.step]}`, now, this.step !== Step.Syn);
      return;
    }
    if (now - this.sentAt >= RTO && (this.step === Step.Syn || this.pending !== null)) {
      this.segment(this.pendingFlags, this.pending, now);
    }
  }

  /** What the server's bytes so far say at this step. */
  private examine(now: number, closed: boolean): void {
    const b = this.inbox;
    const n = this.inboxLength;
    switch (this.step) {
      case Step.Greeting: {
        if (n < 2) break;
        const own = this.srv.credentials !== undefined;
        if (b[0] !== 5 || (b[1] !== 0 && !(own && b[1] === 2))) return this.end(`SOCKS5 method ${b[1]} refused the check`, now, true);
        this.next(b[1] === 2 ? Step.Auth : Step.Connect, now);
        return;
      }
      case Step.Auth:
        if (n < 2) break;
        if (b[1] !== 0) return this.end('the appliance\'s credentials were refused', now, true);
        this.next(Step.Connect, now);
        return;
      case Step.Connect: {
        const length = replyLength(this.socks5 ? D5 : D4, b, 0, n);
        if (length < 0) return this.end(`a malformed SOCKS${this.socks5 ? 5 : 4} reply`, now, true);
        if (length === 0) break;
        const granted = this.socks5 ? b[1] === 0 : b[1] === 90;
        if (!granted) return this.end(`SOCKS${this.socks5 ? 5 : 4} reply ${b[1]}: the server cannot reach ${formatEndpoint(this.check.target)}`, now, true);
        if (this.check.http === undefined) return this.end('', now, true);
        this.next(Step.Http, now);
        return;
      }
      case Step.Http: {
        const eol = b.subarray(0, n).indexOf('\r\n');
        if (eol < 0) break;
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(b.subarray(0, eol).toString('latin1'));
        if (!m) return this.end('not an HTTP answer', now, true);
        const status = Number(m[1]);
        return this.end(status === this.check.status ? '' : `HTTP ${status}, not ${this.check.status}`, now, true);
      }
    }
    if (closed) this.end(`the server closed the connection during ${STEP_NAMES[this.step]}`, now, true);
  }

  /** The next request: its bytes become the segment in flight. */
  private next(step: Step, now: number): void {
    this.step = step;
    this.inboxLength = 0;
    this.send(ACK | PSH, this.request(step), now);
  }

  private request(step: Step): Buffer {
    const t = this.check.target;
    const cred = this.srv.credentials;
    switch (step) {
      case Step.Greeting:
        return Buffer.from(cred ? [5, 1, 2] : [5, 1, 0]);
      case Step.Auth:
        return Buffer.concat([Buffer.from([1, cred!.username.length]), cred!.username, Buffer.from([cred!.password.length]), cred!.password]);
      case Step.Connect: {
        const port = Buffer.from([t.port >> 8, t.port & 255]);
        if (t.kind === 'name') {
          const name = Buffer.from(t.name, 'latin1');
          return this.socks5 ? Buffer.concat([Buffer.from([5, 1, 0, 3, name.length]), name, port])
            : Buffer.concat([Buffer.from([4, 1]), port, Buffer.from([0, 0, 0, 1, 0]), name, Buffer.from([0])]);
        }
        if (t.kind === 'ipv6') {
          // RFC 1928 ATYP 4: SOCKS4 cannot say it (servers-ini.ts asks for SOCKS5).
          const a6 = Buffer.alloc(16);
          writeAddress(t.address, a6, 0);
          return Buffer.concat([Buffer.from([5, 1, 0, 4]), a6, port]);
        }
        const a = Buffer.from([t.address >>> 24, (t.address >>> 16) & 255, (t.address >>> 8) & 255, t.address & 255]);
        return this.socks5 ? Buffer.concat([Buffer.from([5, 1, 0, 1]), a, port]) : Buffer.concat([Buffer.from([4, 1]), port, a, Buffer.from([0])]);
      }
      default:
        return Buffer.from(`GET ${this.check.http} HTTP/1.0\r\nHost: ${formatEndpoint(t)}\r\nUser-Agent: socksalp-check\r\n\r\n`, 'latin1');
    }
  }

  private send(flags: number, payload: Buffer | null, now: number): void {
    this.pending = payload;
    this.pendingFlags = flags;
    this.segment(flags, payload, now);
  }

  private segment(flags: number, payload: Buffer | null, now: number): void {
    const cx = this.cx;
    const srv = this.srv;
    this.sentAt = now;
    const slot = cx.builder.build(
      srv.local.address, this.port, srv.address, srv.port, this.sndNxt, flags & SYN ? 0 : this.rcvNxt, flags, 65535,
      payload ?? undefined, 0, payload?.length ?? 0, flags & SYN ? 1460 : -1,
    );
    if (slot >= 0) cx.sink.toServer(this.server, slot, cx.builder.lastLength, 0, 255, false, true);
  }

  /** The verdict; an open connection is reset where the server expects the next byte (RFC 5961 3.2). */
  private end(why: string, now: number, open: boolean): void {
    this.result = why;
    this.latencyMs = performance.now() - this.startedMs;
    this.step = Step.Done;
    if (open) this.segment(RST | ACK, null, now);
  }
}

const STEP_NAMES = ['the TCP handshake', 'the SOCKS5 greeting', 'the login', 'the CONNECT', 'the HTTP request', 'the end'];
