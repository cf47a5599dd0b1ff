import { connect, type Socket } from 'node:net';

/**
 * The established-flow workload (issue 15, packets/s per core): opens `--flows` SOCKS5
 * connections through `--proxy` (at most `--concurrency` handshakes at a time), prints
 * {"open": N, "failed": M} once all are up, then on every flow at once sends 64 bytes with
 * TCP_NODELAY, waits for their echo and sends again, for `--seconds`; prints {"rounds": R,
 * "seconds": S} and, once stdin ends (the bench has read its counters), resets every flow and
 * exits. Small segments over many flows: each round trip is one data segment each way, the
 * ACKs ride on them. Bounded in count and time (everything ends `--seconds` + 60 s after the
 * start at the latest).
 */
function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const [host, port] = arg('proxy', '198.18.0.100:1080').split(':');
const flows = Number(arg('flows', '400'));
const concurrency = Number(arg('concurrency', '64'));
const seconds = Number(arg('seconds', '5'));
const request = Buffer.from([5, 1, 0, 1, 203, 0, 113, 80, 0, 23]);
const message = Buffer.alloc(64, 0x61);
const open: Socket[] = [];
let failed = 0;
let next = 0;
let running = false;
let rounds = 0;

const deadline = setTimeout(() => {
  process.stderr.write('flows-load: timed out\n');
  end(1);
}, (seconds + 60) * 1000);

function one(): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ host, port: Number(port), noDelay: true });
    let got = 0;
    const timer = setTimeout(() => fail(), 20_000);
    const fail = () => {
      clearTimeout(timer);
      failed++;
      s.destroy();
      resolve();
    };
    const handshake = (b: Buffer) => {
      got += b.length;
      if (got === 2) s.write(request);
      if (got >= 12) {
        clearTimeout(timer);
        s.off('data', handshake);
        s.on('data', echoed);
        open.push(s);
        resolve();
      }
    };
    // Each flow has one message in flight: count the bytes back, send again once all are in.
    let back = 0;
    const echoed = (b: Buffer) => {
      back += b.length;
      while (back >= message.length) {
        back -= message.length;
        rounds++;
        if (running) s.write(message);
      }
    };
    s.on('connect', () => s.write(Buffer.from([5, 1, 0])));
    s.on('data', handshake);
    s.on('error', fail);
  });
}

async function main(): Promise<void> {
  const worker = async () => {
    while (next < flows) {
      next++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  process.stdout.write(JSON.stringify({ open: open.length, failed }) + '\n');
  if (open.length === 0) end(1);
  running = true;
  const started = process.hrtime.bigint();
  for (const s of open) s.write(message);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  running = false;
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(JSON.stringify({ rounds, seconds: elapsed, perSecond: rounds / elapsed }) + '\n');
  process.stdin.resume();
  process.stdin.once('end', () => end(0));
}

/** Every flow ends with a RST: no FINs left to finish after the appliance is gone. */
function end(code: number): void {
  clearTimeout(deadline);
  for (const s of open) s.resetAndDestroy();
  process.exit(code);
}
process.on('SIGTERM', () => end(0));

void main();
