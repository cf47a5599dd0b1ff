import { connect, type Socket } from 'node:net';

/**
 * Opens `--count` SOCKS5 connections through `--proxy` (at most `--concurrency` handshakes at
 * a time, from the `--from` source addresses in turn), holds them all open for `--hold`
 * seconds, prints {"open": N, "failed": M, "seconds": S} once all are up, then resets them and
 * exits (at once on SIGTERM). Bounded in count and time.
 */
function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const [host, port] = arg('proxy', '198.18.0.100:1080').split(':');
const count = Number(arg('count', '1000'));
const concurrency = Number(arg('concurrency', '256'));
/** Seconds to hold once all are open; the bench ends them sooner with SIGTERM. */
const hold = Number(arg('hold', '900'));
const sources = arg('from', '198.18.0.2').split(',');
const request = Buffer.from([5, 1, 0, 1, 203, 0, 113, 80, 0, 80]);
const open: Socket[] = [];
let failed = 0;
let next = 0;
const started = Date.now();

function one(): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ host, port: Number(port), localAddress: sources[next % sources.length] });
    let got = 0;
    const timer = setTimeout(() => fail(), 20_000);
    const fail = () => {
      clearTimeout(timer);
      failed++;
      s.destroy();
      resolve();
    };
    s.on('connect', () => s.write(Buffer.from([5, 1, 0])));
    s.on('data', (b: Buffer) => {
      got += b.length;
      if (got === 2) s.write(request);
      if (got >= 12) {
        clearTimeout(timer);
        s.removeAllListeners('data');
        open.push(s);
        resolve();
      }
    });
    s.on('error', fail);
  });
}

async function main(): Promise<void> {
  const worker = async () => {
    while (next < count) {
      next++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  process.stdout.write(JSON.stringify({ open: open.length, failed, seconds: (Date.now() - started) / 1000 }) + '\n');
  await new Promise((r) => setTimeout(r, hold * 1000));
  end();
}

/**
 * Closes every connection with a RST: a FIN would leave 100,000 sockets to finish their close
 * after the appliance is gone, as orphans that the kernel caps and then resets at random.
 */
function end(): void {
  for (const s of open) s.resetAndDestroy();
  process.exit(0);
}
process.on('SIGTERM', end);

void main();
