import { execFileSync, spawnSync } from 'node:child_process';
import { ApplianceProcess } from './appliance-process';
import { healthOf, until, type Health } from './ha';
import { REPO, type LabFacts } from './lab';
import { join } from 'node:path';

/**
 * The ECMP suites' common ground (issue 16): lab.sh's `ecmp` sort, its three members as the
 * lab made their configuration (LAB_ECMP_*), and the router's resilient next-hop groups as the
 * kernel of salab-rtr has them.
 */

const SCRIPT = join(REPO, 'test', 'lab', 'lab.sh');
export const ecmpLab = (...args: string[]): string => execFileSync('bash', [SCRIPT, 'ecmp', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

export type MemberName = 'a' | 'b' | 'c';
export const MEMBERS: readonly MemberName[] = ['a', 'b', 'c'];

/** Member `name` of the group, started (each serves from the start) and answering healthy. */
export async function startEcmpMember(facts: LabFacts, name: MemberName): Promise<ApplianceProcess> {
  const X = name.toUpperCase();
  const app = new ApplianceProcess(facts[`LAB_ECMP_${X}_CONF`], facts[`LAB_ECMP_${X}_SOCKET`], {}, facts[`LAB_ECMP_${X}_NS`]);
  let h: Health | undefined;
  await until(`member ${name} healthy`, () => app.exited !== null || h?.ok === true, 15_000, async () => { h = await healthOf(app); });
  if (app.exited !== null) throw new Error(`member ${name} exited (${app.exited}):\n${app.output}`);
  return app;
}

/** The members whose next hops the router's IPv4 VIP group holds now, by name. */
export function groupMembers(facts: LabFacts): MemberName[] {
  let out = '';
  try {
    out = execFileSync('ip', ['-n', facts.LAB_ECMP_RTR_NS, 'nexthop', 'show', 'id', facts.LAB_ECMP_GROUP], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return []; // no group: no member announces the VIP
  }
  const ids = /group ([\d/,]+)/.exec(out)?.[1].split('/').map((x) => Number(x.split(',')[0])) ?? [];
  return MEMBERS.filter((m) => ids.includes(Number(facts[`LAB_ECMP_${m.toUpperCase()}_NEXTHOP`])));
}

/** Waits until the router's group holds exactly `want`; how long it took. */
export function groupIs(facts: LabFacts, want: readonly MemberName[], ms = 20_000): Promise<number> {
  return until(`the router's VIP group holding ${want.join(', ')}`, () => groupMembers(facts).join() === want.join(), ms);
}

/** A connection as `ctl conns` lists it. */
export interface MemberRow { client: string; server: string; port: number; adopted: boolean; bytesOut: number; bytesIn: number }

/** The connections `app` serves, by the client's port. */
export async function memberRows(app: ApplianceProcess): Promise<Map<number, MemberRow>> {
  const got = (await app.ask({ cmd: 'conns', limit: 5000 })).rows as MemberRow[];
  return new Map(got.map((r) => [Number(r.client.split(':').pop()), r]));
}

/** A member's next-hop id in the router's group of that family. */
export const nexthopOf = (facts: LabFacts, name: MemberName, v6 = false): number => Number(facts[`LAB_ECMP_${name.toUpperCase()}_NEXTHOP${v6 ? '6' : ''}`]);

const ipJson = (facts: LabFacts, ...args: string[]): unknown => {
  const r = spawnSync('ip', ['-n', facts.LAB_ECMP_RTR_NS, '-j', ...args], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() !== '' ? JSON.parse(r.stdout) : [];
};

export interface Group { members: number[]; type: string; buckets: number; idleTimer: number; unbalancedTimer: number }

/** The router's next-hop group `id`, undefined when there is none (no member announces). */
export function groupOf(facts: LabFacts, id: number): Group | undefined {
  const [g] = ipJson(facts, 'nexthop', 'show', 'id', String(id)) as { group?: { id: number }[]; type?: string; resilient_args?: { buckets: number; idle_timer: number; unbalanced_timer: number } }[];
  if (g?.group === undefined) return undefined;
  const r = g.resilient_args;
  return { members: g.group.map((m) => m.id).sort((x, y) => x - y), type: g.type ?? 'mpath', buckets: r?.buckets ?? 0, idleTimer: r?.idle_timer ?? 0, unbalancedTimer: r?.unbalanced_timer ?? 0 };
}

/** Bucket index -> next-hop id of the router's resilient group `id`. */
export function bucketsOf(facts: LabFacts, id: number): Map<number, number> {
  const list = ipJson(facts, 'nexthop', 'bucket', 'list', 'id', String(id)) as { bucket: { index: number; nhid: number } }[];
  return new Map(list.map((b) => [b.bucket.index, b.bucket.nhid]));
}

/** How many buckets each next hop has. */
export function shares(buckets: Map<number, number>): Map<number, number> {
  const n = new Map<number, number>();
  for (const nh of buckets.values()) n.set(nh, (n.get(nh) ?? 0) + 1);
  return n;
}

/** The next-hop object the router's route to `prefix` uses, undefined when it has none. */
export function routeNhid(facts: LabFacts, prefix: string): number | undefined {
  const [r] = ipJson(facts, ...(prefix.includes(':') ? ['-6'] : []), 'route', 'show', prefix) as { nhid?: number }[];
  return r?.nhid;
}

/** The BGP sessions the router has established, IPv4 and IPv6 together, by its bgpd. */
export function establishedSessions(facts: LabFacts): number {
  const out = execFileSync('vtysh', ['--vty_socket', facts.LAB_ECMP_RTR_VTY, '-d', 'bgpd', '-c', 'show bgp summary json'], { encoding: 'utf8' });
  const summary = JSON.parse(out) as Record<string, { peers?: Record<string, { state: string }> }>;
  return Object.values(summary).flatMap((af) => Object.values(af.peers ?? {})).filter((p) => p.state === 'Established').length;
}

/** Connections the appliance's table has taken since it started (`ctl status`). */
export async function created(app: ApplianceProcess): Promise<number> {
  return ((await app.ask({ cmd: 'status' })).status as { table: { created: number } }).table.created;
}
