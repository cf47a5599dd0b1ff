import { execFileSync } from 'node:child_process';
import { ApplianceProcess } from './appliance-process';
import { healthOf, until, type Health } from './ha';
import { REPO, type LabFacts } from './lab';
import { join } from 'node:path';

/**
 * The ECMP suites' common ground (issue 16): lab.sh's `ecmp` sort, its three members as the
 * lab made their configuration (LAB_ECMP_*), and the router's resilient next-hop group as the
 * kernel has it.
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
