import { connect, type Socket } from 'node:net';
import { createHash } from 'node:crypto';

/**
 * A SOCKS client for the lab's tests and benchmarks, where curl cannot do what is needed:
 * send the handshake one byte per TCP segment, run thousands of connections at a chosen
 * concurrency, and report from the far side which SOCKS server carried each connection.
 */
export type Dialect = '4' | '4a' | '5' | '5h';

export interface Request {
  proxy: string;
  dialect: Dialect;
  /** Destination address (4, 5) or host name (4a, 5h). */
  host: string;
  port: number;
  /** Bytes to send once connected. */
  send: Buffer;
  /** Stop once the answer's head ends with this text; otherwise read until the server closes. */
  until?: string;
  /** Each handshake byte in its own segment, a few milliseconds apart. */
  byteBySegment?: boolean;
  timeoutMs?: number;
}

export interface Result {
  bytes: number;
  sha256: string;
  /** The answer's first 1024 bytes, as text, for banners and headers. */
  head: string;
  ms: number;
  /** The client's own port toward the proxy (what a capture of the client's side shows). */
  localPort: number;
}

function handshake(r: Request): { first: Buffer; then: Buffer; replyLength: number } {
  const port = Buffer.from([r.port >> 8, r.port & 255]);
  const ipv4 = (h: string) => Buffer.from(h.split('.').map(Number));
  switch (r.dialect) {
    case '4':
      return { first: Buffer.concat([Buffer.from([4, 1]), port, ipv4(r.host), Buffer.from('lab\0')]), then: Buffer.alloc(0), replyLength: 8 };
    case '4a':
      return { first: Buffer.concat([Buffer.from([4, 1]), port, Buffer.from([0, 0, 0, 1]), Buffer.from('lab\0'), Buffer.from(r.host + '\0')]), then: Buffer.alloc(0), replyLength: 8 };
    case '5':
      return { first: Buffer.from([5, 1, 0]), then: Buffer.concat([Buffer.from([5, 1, 0, 1]), ipv4(r.host), port]), replyLength: 10 };
    case '5h':
      return { first: Buffer.from([5, 1, 0]), then: Buffer.concat([Buffer.from([5, 1, 0, 3, r.host.length]), Buffer.from(r.host), port]), replyLength: 10 };
  }
}

async function writeBytes(s: Socket, b: Buffer, oneByOne: boolean): Promise<void> {
  if (!oneByOne) {
    s.write(b);
    return;
  }
  for (let i = 0; i < b.length; i++) {
    s.write(b.subarray(i, i + 1));
    await new Promise((r) => setTimeout(r, 3));
  }
}

/** `host:port`, or `[ipv6]:port` (RFC 3986 3.2.2's brackets): host and port apart. */
export function hostPort(text: string): [string, number] {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  if (!m) throw new Error(`expected host:port or [ipv6]:port, got ${text}`);
  return [m[1], Number(m[2])];
}

export function socksRequest(r: Request): Promise<Result> {
  const started = process.hrtime.bigint();
  const [host, port] = hostPort(r.proxy);
  const h = handshake(r);
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, noDelay: true });
    const hash = createHash('sha256');
    let stage = r.dialect.startsWith('5') ? 'method' : 'reply';
    let pending = Buffer.alloc(0);
    let bytes = 0;
    let head = '';
    let done = false;
    const finish = (e?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      if (e) reject(e);
      else resolve({ bytes, sha256: hash.digest('hex'), head, ms: Number(process.hrtime.bigint() - started) / 1e6, localPort });
    };
    const timer = setTimeout(() => finish(new Error(`timeout in stage ${stage}`)), r.timeoutMs ?? 10_000);
    let localPort = 0;
    s.on('connect', () => {
      localPort = s.localPort ?? 0;
      void writeBytes(s, h.first, !!r.byteBySegment);
    });
    s.on('data', (chunk: Buffer) => {
      if (stage === 'data') {
        take(chunk);
        return;
      }
      pending = Buffer.concat([pending, chunk]);
      if (stage === 'method') {
        if (pending.length < 2) return;
        if (pending[0] !== 5 || pending[1] !== 0) return finish(new Error(`method refused: ${pending.subarray(0, 2).toString('hex')}`));
        pending = pending.subarray(2);
        stage = 'reply';
        void writeBytes(s, h.then, !!r.byteBySegment);
      }
      if (stage === 'reply') {
        // SOCKS5 replies with a host name are longer; the lab's servers answer with IPv4.
        if (pending.length < h.replyLength) return;
        const ok = r.dialect.startsWith('5') ? pending[1] === 0 : pending[1] === 90;
        if (!ok) return finish(new Error(`request refused: ${pending.subarray(0, h.replyLength).toString('hex')}`));
        const rest = pending.subarray(h.replyLength);
        stage = 'data';
        s.write(r.send);
        if (rest.length) take(rest);
      }
    });
    const take = (b: Buffer) => {
      hash.update(b);
      bytes += b.length;
      if (head.length < 1024) head += b.subarray(0, 1024 - head.length).toString('latin1');
      if (r.until !== undefined && head.endsWith(r.until)) finish();
    };
    s.on('end', () => (stage === 'data' ? finish() : finish(new Error(`closed in stage ${stage}`))));
    s.on('error', (e) => finish(e));
  });
}

/** The SOCKS server's egress address, as the web server or a socat service reported it. */
export function carrier(head: string): string | undefined {
  return /^x-peer: (\S+)/im.exec(head)?.[1] ?? /^socksalp-lab \S+ (\S+)/m.exec(head)?.[1];
}

export function httpGet(path: string): Buffer {
  return Buffer.from(`GET ${path} HTTP/1.0\r\nHost: web.socksalp.test\r\n\r\n`);
}
