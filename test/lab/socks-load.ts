import { carrier, httpGet, socksRequest, type Dialect, type Request } from './socks-client';

/**
 * A bounded load of SOCKS connections: `count` requests, `concurrency` at a time, cycling
 * through the given mix. Prints one JSON line: successes, failures with reasons, latency
 * percentiles, connections per second, and how many each SOCKS server carried (as the far
 * side saw it). Runs inside the lab's client namespace; stops by itself.
 *
 *   node socks-load.js --proxy 198.18.0.100:1080 --count 2000 --concurrency 32 --mix http4,http5,ftp5h
 */

const MIXES: Record<string, { dialect: Dialect; port: number; path?: string }> = {
  http4: { dialect: '4', port: 80, path: '/hello.txt' },
  http4a: { dialect: '4a', port: 80, path: '/hello.txt' },
  http5: { dialect: '5', port: 80, path: '/hello.txt' },
  http5h: { dialect: '5h', port: 80, path: '/hello.txt' },
  ftp4: { dialect: '4', port: 21 },
  ftp5h: { dialect: '5h', port: 21 },
  telnet5: { dialect: '5', port: 23 },
  gopher4: { dialect: '4', port: 70 },
  ssl5: { dialect: '5', port: 443 },
};

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const proxy = arg('proxy', '198.18.0.100:1080');
  const count = Number(arg('count', '100'));
  const concurrency = Number(arg('concurrency', '16'));
  const webAddr = arg('web', '203.0.113.80');
  const mix = arg('mix', 'http5').split(',').map((m) => {
    const k = MIXES[m];
    if (!k) throw new Error(`unknown mix "${m}"; known: ${Object.keys(MIXES).join(', ')}`);
    return { name: m, ...k };
  });
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  const carriers: Record<string, Record<string, number>> = {};
  let next = 0;
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < count) {
      const m = mix[next++ % mix.length];
      const host = m.dialect === '4a' || m.dialect === '5h' ? 'web.socksalp.test' : webAddr;
      const req: Request = m.path
        ? { proxy, dialect: m.dialect, host, port: m.port, send: httpGet(m.path) }
        : { proxy, dialect: m.dialect, host, port: m.port, send: Buffer.from('ping\n'), until: 'ping\n' };
      try {
        const r = await socksRequest(req);
        latencies.push(r.ms);
        const who = carrier(r.head) ?? 'unknown';
        (carriers[m.name] ??= {})[who] = (carriers[m.name][who] ?? 0) + 1;
      } catch (e) {
        const why = (e as Error).message.replace(/[0-9a-f]{8,}/g, '…');
        errors[why] = (errors[why] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] : NaN);
  const failed = Object.values(errors).reduce((a, b) => a + b, 0);
  process.stdout.write(JSON.stringify({
    ok: latencies.length, failed, errors, seconds, perSecond: latencies.length / seconds,
    p50: pct(50), p99: pct(99), carriers,
  }) + '\n');
}

main().catch((e: Error) => {
  process.stderr.write(`socks-load: ${e.message}\n`);
  process.exit(2);
});
