import { execFileSync, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The lab as tests, benchmarks and the demo see it: a thin wrapper over lab.sh, which is the
 * one place that knows the topology. Facts come from `lab.sh env`.
 */
export const REPO = join(__dirname, '..', '..', '..');
const SCRIPT = join(REPO, 'test', 'lab', 'lab.sh');

export type LabFacts = Record<string, string>;

function lab(...args: string[]): string {
  return execFileSync('bash', [SCRIPT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function labFacts(): LabFacts {
  const facts: LabFacts = {};
  for (const line of lab('env').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) facts[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return facts;
}

let upHere = false;
let teardownArmed = false;

/**
 * Brings the lab up once per process and arranges for it to come down however the process ends.
 * `vm`: the appliance's namespace only bridges the segments to TAPs for a VM (lab.sh up --vm).
 */
export function useLab(appliance: 'host' | 'vm' = 'host'): LabFacts {
  if (!upHere) {
    armTeardown();
    upHere = true;
    try {
      lab('up', ...(appliance === 'vm' ? ['--vm'] : []));
    } catch (e) {
      const err = e as { stderr?: string };
      throw new Error(`the lab did not come up:\n${err.stderr ?? String(e)}`);
    }
  }
  return labFacts();
}

/** Tears the lab down if this process brought it up; safe to call more than once. */
export function labDown(): void {
  if (!upHere) return;
  upHere = false;
  lab('down');
}

function armTeardown(): void {
  if (teardownArmed) return;
  teardownArmed = true;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      try {
        labDown();
      } finally {
        process.exit(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const)[signal]);
      }
    });
  }
  process.once('exit', () => {
    if (upHere) spawnSync('bash', [SCRIPT, 'down'], { stdio: 'ignore' });
  });
}

/** Runs a command inside a lab namespace and waits for it. */
export function inNs(ns: string, cmd: string, args: string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', input, timeout: 60_000, maxBuffer: 16 << 20 });
}

export interface Download {
  status: number | null;
  sha256: string;
  bytes: number;
  stderr: string;
}

/** Runs curl in a namespace and hashes what it received, without holding it in memory. */
export function curlSha256(ns: string, args: string[]): Promise<Download> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, 'curl', '-sS', '--max-time', '60', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const hash = createHash('sha256');
    let bytes = 0;
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { hash.update(b); bytes += b.length; });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, sha256: hash.digest('hex'), bytes, stderr }));
  });
}

/** The web server's access log as lines of "remote_addr uri status bytes server_addr" (the mirror that answered last). */
export function webLog(facts: LabFacts): string[] {
  return readFileSync(facts.LAB_NGINX_LOG, 'utf8').split('\n').filter((l) => l !== '');
}

/**
 * What `ha down` and `ecmp down` must put back as `up` made it: the client's addresses, routes
 * and links, and A's intra0, routes and devices. Not the carrier and link-local addresses of A's
 * TUN and TAPs, which any appliance's run changes. A's IPv6 routes are compared as a set: the
 * kernel lists the routes of one prefix (every device's fe80::/64) in the order they were
 * added, and an intra0 that was away (the ECMP router had it) adds its own last.
 */
export function normalLab(): string {
  const ip = (ns: string, ...args: string[]) => execFileSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
  const client = 'salab-client';
  const app = 'salab-app';
  return [
    ip(client, '-br', 'addr'), ip(client, 'route'), ip(client, '-6', 'route'), ip(client, '-br', 'link'),
    ip(app, '-br', 'addr', 'show', 'dev', 'intra0'), ip(app, 'route'),
    ip(app, '-6', 'route').split('\n').filter((l) => !/^fe80::\/64 dev alp/.test(l)).sort().join('\n'),
    ip(app, '-o', 'link').split('\n').map((l) => l.split(':')[1] ?? '').join(' '),
  ].join('\n');
}

/** Lab namespaces that exist now. */
export function labNamespaces(): string[] {
  const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return out.split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith('salab-'));
}

/** Pids of processes running (not zombies) inside the given namespaces. */
export function pidsIn(namespaces: string[]): number[] {
  const pids: number[] = [];
  for (const ns of namespaces) {
    const out = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
    for (const p of out.split('\n').filter(Boolean)) if (running(Number(p))) pids.push(Number(p));
  }
  return pids;
}

export function running(pid: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

let fetches = 0;

/** An address as a URL's host: an IPv6 address in brackets (RFC 3986 section 3.2.2). */
export function urlHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/**
 * One download through `proxy` with curl's `flag`, of `path` on the web host: what curl got
 * (sha256) and, from nginx's log, the address that reached it (the SOCKS server's egress) and
 * the mirror that answered. The URL carries a query of its own, so that other requests ending
 * meanwhile (a download under way, a health check) are not taken for it. `host`: the URL's
 * host (and port), LAB_WEB_ADDR by default; e.g. `[2001:db8:113::80]:8080` or a name.
 */
export async function fetchVia(facts: LabFacts, flag: string, proxy: string, o: { path?: string; curl?: string[]; host?: string } = {}): Promise<Download & { carrier: string; mirror: string }> {
  const uri = `${o.path ?? '/big.bin'}?fetch=${process.pid}-${++fetches}`;
  const d = await curlSha256(facts.LAB_NS_CLIENT, [...(o.curl ?? []), flag, proxy, `http://${o.host ?? facts.LAB_WEB_ADDR}${uri}`]);
  const line = webLog(facts).find((l) => l.split(' ')[1] === uri)?.split(' ') ?? [];
  return { ...d, carrier: line[0] ?? '', mirror: line[line.length - 1] ?? '' };
}

/**
 * One SOCKS request from the client's namespace through `proxy` with the lab's own client
 * (socks-client.ts: any dialect, the handshake one byte per segment if asked): the carrier the
 * far side named and the sha256 of the HTTP body, if `path` asked for one.
 */
export function socksInClient(facts: LabFacts, proxy: string, o: { dialect: '4' | '4a' | '5' | '5h'; host: string; port: number; path?: string; byteBySegment?: boolean }): { carrier: string; body: string } {
  const script = `
    const { socksRequest, httpGet, carrier } = require(${JSON.stringify(join(REPO, 'dist', 'test', 'lab', 'socks-client.js'))});
    const o = ${JSON.stringify(o)};
    const send = o.path ? httpGet(o.path) : Buffer.from('ping\\n');
    socksRequest({ proxy: ${JSON.stringify(proxy)}, dialect: o.dialect, host: o.host, port: o.port, send, until: o.path ? undefined : 'ping\\n', byteBySegment: o.byteBySegment })
      .then((r) => { console.log(JSON.stringify({ head: r.head, carrier: carrier(r.head) })); })
      .catch((e) => { console.error(e.message); process.exit(1); });`;
  const r = inNs(facts.LAB_NS_CLIENT, process.execPath, ['-e', script]);
  if (r.status !== 0) throw new Error(`the SOCKS request through ${proxy} failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { head: string; carrier: string };
  const bodyAt = out.head.indexOf('\r\n\r\n');
  const body = bodyAt >= 0 ? createHash('sha256').update(out.head.slice(bodyAt + 4), 'latin1').digest('hex') : '';
  return { carrier: out.carrier, body };
}
