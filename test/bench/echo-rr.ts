import { connect } from 'node:net';
import { hostPort } from '../lab/socks-client';

/**
 * Request/response over one established flow (like netperf's TCP_RR): through a SOCKS5 proxy to
 * the lab's echo service, send 64 bytes, wait for them to come back, repeat for `--seconds`.
 * Prints {"perSecond": N}. Each round trip is two data segments through the path.
 */
function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const [host, port] = hostPort(arg('proxy', '198.18.0.100:1080'));
const target = arg('target', '203.0.113.80');
const seconds = Number(arg('seconds', '5'));
const message = Buffer.alloc(64, 0x61);

const s = connect({ host, port, noDelay: true });
let stage = 0;
let got = 0;
let rounds = 0;
let started = 0n;
const timer = setTimeout(() => {
  process.stderr.write('echo-rr: timed out\n');
  process.exit(1);
}, (seconds + 10) * 1000);

s.on('connect', () => s.write(Buffer.from([5, 1, 0])));
s.on('data', (b: Buffer) => {
  if (stage === 0) {
    stage = 1;
    s.write(Buffer.concat([Buffer.from([5, 1, 0, 1]), Buffer.from(target.split('.').map(Number)), Buffer.from([0, 23])]));
    return;
  }
  if (stage === 1) {
    // SOCKS reply (10 bytes) and the service's banner line; then the rounds start.
    if (!b.includes(0x0a)) return;
    stage = 2;
    started = process.hrtime.bigint();
    s.write(message);
    return;
  }
  got += b.length;
  while (got >= message.length) {
    got -= message.length;
    rounds++;
    const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
    if (elapsed >= seconds) {
      clearTimeout(timer);
      process.stdout.write(JSON.stringify({ perSecond: rounds / elapsed, rounds }) + '\n');
      s.destroy();
      return;
    }
    s.write(message);
  }
});
s.on('error', (e) => {
  process.stderr.write(`echo-rr: ${e.message}\n`);
  process.exit(1);
});
