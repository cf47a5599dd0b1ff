import { connect, type Socket } from 'node:net';
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';

/**
 * The HA suite's client (issue 16), run in the client's namespace: N interactive connections
 * and one rate-limited download, all through the appliance by SOCKS4, kept going across a
 * failover. Prints `ready` once every connection is open and the download has begun,
 * `progress BYTES` twice a second, and at the end one line `result JSON`: the download's
 * length, sha256 and longest silence (the failover as the client saw it: last byte before,
 * first byte after), and per interactive connection the carrier its service named and whether
 * every echo came back. Exits 0 when it could report, 1 otherwise.
 */

const { values } = parseArgs({
  options: {
    proxy: { type: 'string', default: '198.18.0.100:1080' },
    web: { type: 'string', default: '203.0.113.80' },
    path: { type: 'string', default: '/big.bin' },
    'rate-mb': { type: 'string', default: '20' },
    interactive: { type: 'string', default: '100' },
    'service-port': { type: 'string', default: '23' },
    'echo-ms': { type: 'string', default: '250' },
    'timeout-s': { type: 'string', default: '120' },
  },
});
const [proxyHost, proxyPort] = values.proxy!.split(':');
const WEB = values.web!;
const RATE = Number(values['rate-mb']) * 1e6;
const N = Number(values.interactive);
const SERVICE = Number(values['service-port']);
const ECHO_MS = Number(values['echo-ms']);
const out = (line: string) => process.stdout.write(line + '\n');

/** A SOCKS4 CONNECT to WEB:port; resolves with the socket once granted, and the bytes after the reply. */
function socks4(port: number): Promise<{ s: Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: proxyHost, port: Number(proxyPort), noDelay: true });
    const req = Buffer.from([4, 1, port >> 8, port & 255, ...WEB.split('.').map(Number), 0]);
    let got = Buffer.alloc(0);
    const onData = (b: Buffer) => {
      got = Buffer.concat([got, b]);
      if (got.length < 8) return;
      s.off('data', onData);
      if (got[1] !== 90) return reject(new Error(`SOCKS4 refused: ${got.subarray(0, 8).toString('hex')}`));
      resolve({ s, rest: got.subarray(8) });
    };
    s.on('connect', () => s.write(req));
    s.on('data', onData);
    s.once('error', reject);
  });
}

interface Interactive {
  s: Socket;
  /** The client's port towards the appliance: its key in the appliance's table. */
  port: number;
  carrier: string;
  buffered: string;
  echoes: number;
  failures: number;
  /** The echo awaited, and when it was sent. */
  waiting: string | undefined;
  sentAt: number;
  longestMs: number;
}

async function openInteractive(i: number): Promise<Interactive> {
  const { s, rest } = await socks4(SERVICE);
  const c: Interactive = { s, port: s.localPort ?? 0, carrier: '', buffered: '', echoes: 0, failures: 0, waiting: undefined, sentAt: 0, longestMs: 0 };
  const feed = (b: Buffer) => {
    c.buffered += b.toString('latin1');
    let nl: number;
    while ((nl = c.buffered.indexOf('\n')) >= 0) {
      const line = c.buffered.slice(0, nl);
      c.buffered = c.buffered.slice(nl + 1);
      const banner = /^socksalp-lab \S+ (\S+)/.exec(line);
      if (banner) c.carrier = banner[1];
      else if (line === c.waiting) {
        c.echoes++;
        c.longestMs = Math.max(c.longestMs, Date.now() - c.sentAt);
        c.waiting = undefined;
      }
    }
  };
  // The banner may have come with the SOCKS reply.
  feed(rest);
  s.on('data', feed);
  s.on('error', () => c.failures++);
  s.on('close', () => { if (c.waiting !== undefined) c.failures++; });
  for (let k = 0; k < 100 && c.carrier === ''; k++) await new Promise((r) => setTimeout(r, 20));
  if (c.carrier === '') throw new Error(`connection ${i}: no banner from the service`);
  return c;
}

interface Download {
  /** The client's port towards the appliance. */
  port: number;
  bytes: number;
  sha256: string;
  status: string;
  longestGapMs: number;
  /** Bytes of the body received when the longest gap began. */
  gapAtBytes: number;
  done: boolean;
}

function download(path: string, progress: (bytes: number) => void): { result: Promise<Download>; state: Download } {
  const state: Download = { port: 0, bytes: 0, sha256: '', status: '', longestGapMs: 0, gapAtBytes: 0, done: false };
  const result = socks4(80).then(({ s, rest }) => new Promise<Download>((resolve, reject) => {
    const hash = createHash('sha256');
    state.port = s.localPort ?? 0;
    const start = Date.now();
    let head = Buffer.alloc(0);
    let inBody = false;
    let last = Date.now();
    const take = (b: Buffer) => {
      const now = Date.now();
      if (now - last > state.longestGapMs) {
        state.longestGapMs = now - last;
        state.gapAtBytes = state.bytes;
      }
      last = now;
      if (!inBody) {
        head = Buffer.concat([head, b]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        state.status = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
        inBody = true;
        b = head.subarray(end + 4);
      }
      hash.update(b);
      state.bytes += b.length;
      progress(state.bytes);
      // The rate: reading pauses while the body is ahead of RATE bytes a second.
      const ahead = state.bytes / RATE * 1000 - (now - start);
      if (ahead > 5) {
        s.pause();
        setTimeout(() => s.resume(), ahead);
      }
    };
    s.on('data', take);
    s.on('end', () => {
      state.sha256 = hash.digest('hex');
      state.done = true;
      resolve(state);
    });
    s.once('error', reject);
    s.write(`GET ${path} HTTP/1.0\r\nHost: web.socksalp.test\r\n\r\n`);
    if (rest.length) take(rest);
  }));
  return { result, state };
}

async function main(): Promise<number> {
  const conns: Interactive[] = [];
  let dl: ReturnType<typeof download> | undefined;
  // What was stuck, for the suite's failure report: the download's port and bytes, the echoes awaited.
  const timeout = setTimeout(() => {
    const stuck = conns.filter((c) => c.waiting !== undefined).map((c) => `${c.port} (since ${Date.now() - c.sentAt} ms)`);
    out(`error timeout: download port ${dl?.state.port} at ${dl?.state.bytes} bytes${dl?.state.done ? ', done' : ''}; echoes awaited on ${stuck.join(', ') || 'none'}`);
    process.exit(1);
  }, Number(values['timeout-s']) * 1000);
  for (let i = 0; i < N; i += 10) conns.push(...(await Promise.all(Array.from({ length: Math.min(10, N - i) }, (_, k) => openInteractive(i + k)))));
  let reported = 0;
  dl = download(values.path!, (b) => { reported = b; });
  const progress = setInterval(() => out(`progress ${reported}`), 500);
  // Each connection sends a line every ECHO_MS and expects it back (one outstanding at a time).
  let round = 0;
  const echo = setInterval(() => {
    round++;
    for (let i = 0; i < conns.length; i++) {
      const c = conns[i];
      if (c.waiting !== undefined) continue;
      c.waiting = `ping ${i} ${round}`;
      c.sentAt = Date.now();
      c.s.write(c.waiting + '\n');
    }
  }, ECHO_MS);
  out('ready');
  const d = await dl.result;
  out(`downloaded ${d.bytes}`);
  // One more round after the download: every connection must still answer.
  const before = conns.map((c) => c.echoes);
  for (let k = 0; k < 200 && conns.some((c, i) => c.echoes < before[i] + 2); k++) await new Promise((r) => setTimeout(r, 50));
  clearInterval(echo);
  clearInterval(progress);
  clearTimeout(timeout);
  out(`result ${JSON.stringify({
    download: d,
    interactive: conns.map((c) => ({ port: c.port, carrier: c.carrier, echoes: c.echoes, failures: c.failures, longestMs: c.longestMs, pending: c.waiting !== undefined })),
  })}`);
  for (const c of conns) c.s.destroy();
  return 0;
}

main().then((code) => process.exit(code), (e: Error) => {
  out(`error ${e.message}`);
  process.exit(1);
});
