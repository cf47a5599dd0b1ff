import { execFile } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { promisify } from 'node:util';

/**
 * The lab's ECMP router (lab.sh ecmp): installs each VIP's route through a resilient next-hop
 * group (Linux nexthop-group-resilient.rst) that follows the multipath set BGP gave zebra.
 * FRR 8.4's zebra puts BGP's multipath routes in a hash-threshold group only (RFC 2992: one
 * appliance more or less moves flows between the others too), so the router's zebra keeps
 * the VIP routes out of the kernel (`ip protocol bgp route-map` deny) and this process, in the
 * router's namespace, polls zebra's RIB over its vty socket and keeps in step:
 *   ip nexthop replace id MEMBER via ADDRESS dev DEV proto bgp          (once per member)
 *   ip nexthop replace id GROUP group M1/M2/.. type resilient buckets B idle_timer I unbalanced_timer U proto bgp
 *   ip route replace PREFIX nhid GROUP proto bgp
 * and, when no member is left, deletes the route and the group (a group cannot be empty).
 * `proto bgp`: what they carry is BGP's, and zebra takes a new route of a protocol of its own
 * for one it made, so it ignores them. Of `proto boot` it would make a kernel route using the
 * group, and "send back down" the group it had whenever this process changed it.
 *
 * node ecmp-follower.js --vty ZEBRA.vty --dev DEV --buckets B --idle-timer I --unbalanced-timer U
 *   --route PREFIX=GROUP ... --member ADDRESS=ID ...
 */

const run = promisify(execFile);
/** How often zebra's RIB is read: a change reaches the kernel within this and the `ip` runs. */
const POLL_MS = 50;

interface Options {
  vty: string;
  dev: string;
  buckets: number;
  idle: number;
  unbalanced: number;
  routes: { prefix: string; group: number }[];
  members: Map<string, number>;
}

function options(argv: string[]): Options {
  const o: Options = { vty: '', dev: '', buckets: 0, idle: 0, unbalanced: 0, routes: [], members: new Map() };
  for (let i = 0; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${key} needs a value`);
    const pair = () => {
      const eq = value.lastIndexOf('=');
      if (eq <= 0) throw new Error(`${key} ${value}: not NAME=ID`);
      return [value.slice(0, eq), Number(value.slice(eq + 1))] as const;
    };
    switch (key) {
      case '--vty': o.vty = value; break;
      case '--dev': o.dev = value; break;
      case '--buckets': o.buckets = Number(value); break;
      case '--idle-timer': o.idle = Number(value); break;
      case '--unbalanced-timer': o.unbalanced = Number(value); break;
      case '--route': { const [prefix, group] = pair(); o.routes.push({ prefix, group }); break; }
      case '--member': { const [address, id] = pair(); o.members.set(address, id); break; }
      default: throw new Error(`unknown option ${key}`);
    }
  }
  if (!o.vty || !o.dev || !o.buckets || o.routes.length === 0 || o.members.size === 0) throw new Error('--vty, --dev, --buckets, --route and --member are required');
  return o;
}

/**
 * A vty session with one FRR daemon over its unix socket, as vtysh has: a command ends with a
 * NUL; the answer is the output followed by three NULs and the command's status byte.
 */
class Vty {
  private buf = Buffer.alloc(0);
  private pending?: { resolve: (out: string) => void; reject: (e: Error) => void };
  private readonly sock: Socket;

  constructor(path: string) {
    this.sock = connect(path);
    this.sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      const n = this.buf.length;
      if (n >= 4 && this.buf[n - 4] === 0 && this.buf[n - 3] === 0 && this.buf[n - 2] === 0) {
        const out = this.buf.subarray(0, n - 4).toString();
        this.buf = Buffer.alloc(0);
        this.pending?.resolve(out);
        this.pending = undefined;
      }
    });
    const gone = (e?: Error) => {
      this.pending?.reject(e ?? new Error('zebra closed its vty'));
      this.pending = undefined;
    };
    this.sock.on('error', gone);
    this.sock.on('close', () => gone());
  }

  ask(cmd: string): Promise<string> {
    return new Promise((resolve, reject) => {
      if (this.sock.destroyed) return reject(new Error('zebra closed its vty'));
      this.pending = { resolve, reject };
      this.sock.write(`${cmd}\0`);
    });
  }
}

interface RibEntry { protocol: string; nexthops?: { ip?: string }[] }

const stamp = () => new Date().toISOString().slice(11, 23);
const log = (line: string) => console.log(`${stamp()} ${line}`);

/** The next hops BGP gave zebra for `prefix`, as member ids (sorted), unknown addresses logged once. */
async function bgpMembers(vty: Vty, o: Options, prefix: string, unknown: Set<string>): Promise<number[]> {
  const v6 = prefix.includes(':');
  const out = await vty.ask(`show ${v6 ? 'ipv6' : 'ip'} route ${prefix} json`);
  // Not in the table: `{}` (with a warning status).
  const entries = ((JSON.parse(out.trim() || '{}') as Record<string, RibEntry[]>)[prefix] ?? []).filter((e) => e.protocol === 'bgp');
  const ids = new Set<number>();
  for (const nh of entries.flatMap((e) => e.nexthops ?? [])) {
    if (nh.ip === undefined) continue;
    const id = o.members.get(nh.ip);
    if (id !== undefined) ids.add(id);
    else if (!unknown.has(nh.ip)) {
      unknown.add(nh.ip);
      log(`${prefix}: next hop ${nh.ip} is no member given; left out`);
    }
  }
  return [...ids].sort((a, b) => a - b);
}

const ip = (...args: string[]) => run('ip', args);

async function apply(o: Options, prefix: string, group: number, ids: number[], made: Set<number>): Promise<void> {
  const v6 = prefix.includes(':') ? ['-6'] : [];
  if (ids.length === 0) {
    await ip(...v6, 'route', 'del', prefix).catch(() => undefined);
    await ip('nexthop', 'del', 'id', String(group)).catch(() => undefined);
    return;
  }
  for (const id of ids) {
    if (made.has(id)) continue;
    const address = [...o.members].find(([, m]) => m === id)![0];
    await ip('nexthop', 'replace', 'id', String(id), 'via', address, 'dev', o.dev, 'proto', 'bgp');
    made.add(id);
  }
  await ip('nexthop', 'replace', 'id', String(group), 'group', ids.join('/'), 'type', 'resilient',
    'buckets', String(o.buckets), 'idle_timer', String(o.idle), 'unbalanced_timer', String(o.unbalanced), 'proto', 'bgp');
  await ip(...v6, 'route', 'replace', prefix, 'nhid', String(group), 'proto', 'bgp');
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const vty = new Vty(o.vty);
  const applied = new Map<string, string>();
  const made = new Set<number>();
  const unknown = new Set<string>();
  log(`following ${o.routes.map((r) => `${r.prefix} (group ${r.group})`).join(', ')} from ${o.vty}`);
  for (;;) {
    for (const { prefix, group } of o.routes) {
      const ids = await bgpMembers(vty, o, prefix, unknown);
      const key = ids.join('/');
      if (applied.get(prefix) === key) continue;
      try {
        await apply(o, prefix, group, ids, made);
        applied.set(prefix, key);
        log(`${prefix}: group ${group} = ${key || 'none (route removed)'}`);
      } catch (e) {
        // Tried again at the next poll: `applied` still holds what the kernel has.
        log(`${prefix}: ${(e as Error).message.trim()}`);
      }
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

main().catch((e: Error) => {
  log(`ecmp-follower: ${e.message}`);
  process.exit(1);
});
