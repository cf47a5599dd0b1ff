import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ApplianceProcess } from '../lab/appliance-process';
import { bucketsOf, created, ecmpLab, establishedSessions, groupOf, MEMBERS, nexthopOf, routeNhid, shares, startEcmpMember, type MemberName } from '../lab/ecmp';
import { haLab, until } from '../lab/ha';
import { curlSha256, labFacts, labNamespaces, normalLab, urlHost, useLab, type LabFacts } from '../lab/lab';

const ip = (ns: string, ...args: string[]) => execFileSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
/** The client's addresses and routes: the ECMP sort leaves them as they are. */
const clientState = (ns: string) => [ip(ns, '-br', 'addr'), ip(ns, 'route'), ip(ns, '-6', 'route')].join('\n');

/**
 * Issue 16's N appliances behind ECMP in the lab (lab.sh ecmp): three real appliances, A in
 * salab-app, B in salab-app2, C in salab-app3, each announcing the VIPs by BGP to the FRR router
 * salab-rtr while it runs; the router spreads the client's connections over them through
 * resilient next-hop groups (ecmp-follower.js). Counted from each appliance's `ctl status`, checked
 * by the sha256 of what the client received. C is SIGKILLed (its next hop leaves the groups, only
 * its buckets move, A and B carry every new connection) and started again (it comes back, only its
 * share moves). `ecmp down` then gives the normal lab back, as the suites after this one need it.
 */
describe('ecmp-lab: three appliances behind the FRR router, BGP and a resilient ECMP group', function () {
  this.timeout(180_000);
  let facts: LabFacts;
  let normal = '';
  let client = '';
  const apps = new Map<MemberName, ApplianceProcess>();
  const hello = createHash('sha256').update('hello from the socksalp lab\n').digest('hex');

  before(function () {
    useLab();
    normal = normalLab();
    client = clientState('salab-client');
    ecmpLab('up');
    facts = labFacts();
    expect(facts.LAB_ECMP).to.equal('up');
  });

  async function stopAll(): Promise<void> {
    const problems: string[] = [];
    for (const [name, app] of [...apps]) {
      apps.delete(name);
      try { await app.finish(); } catch (e) { problems.push((e as Error).message); }
    }
    if (problems.length) throw new Error(problems.join('\n'));
  }

  after(async function () {
    try {
      await stopAll();
    } finally {
      ecmpLab('down');
    }
  });

  const group = () => groupOf(facts, Number(facts.LAB_ECMP_GROUP));
  const group6 = () => groupOf(facts, Number(facts.LAB_ECMP_GROUP6));
  const ids = (names: MemberName[], v6 = false) => names.map((n) => nexthopOf(facts, n, v6)).sort((x, y) => x - y);
  const buckets = () => bucketsOf(facts, Number(facts.LAB_ECMP_GROUP));
  const followerLog = () => `--- follower:\n${readFileSync(facts.LAB_ECMP_FOLLOWER_LOG, 'utf8')}`;

  /** Waits until both groups hold exactly `names`' next hops; how long each family took (ms). */
  async function groupsAre(names: MemberName[], ms: number): Promise<{ v4: number; v6: number }> {
    const start = Date.now();
    const at: { v4?: number; v6?: number } = {};
    const same = (g: ReturnType<typeof group>, v6: boolean) => JSON.stringify(g?.members) === JSON.stringify(ids(names, v6));
    await until(`the groups ${names.join(', ')}`, () => {
      at.v4 ??= same(group(), false) ? Date.now() - start : undefined;
      at.v6 ??= same(group6(), true) ? Date.now() - start : undefined;
      return at.v4 !== undefined && at.v6 !== undefined;
    }, ms, undefined, 20).catch((e: Error) => { throw new Error(`${e.message}\n${ecmpLab('bgp-status')}\n${followerLog()}`); });
    return { v4: at.v4!, v6: at.v6! };
  }

  /**
   * `n` new SOCKS connections from the client through `vip` (six at a time), each fetching the
   * lab's hello.txt, whole; how many each running appliance's table took meanwhile.
   */
  async function connections(n: number, vip: string): Promise<Map<MemberName, number>> {
    const before = new Map<MemberName, number>();
    for (const [name, app] of apps) before.set(name, await created(app));
    for (let done = 0; done < n;) {
      const batch = Math.min(6, n - done);
      const results = await Promise.all(Array.from({ length: batch }, () =>
        curlSha256(facts.LAB_NS_CLIENT, ['--socks5', `${urlHost(vip)}:1080`, `http://${facts.LAB_WEB_ADDR}/hello.txt`])));
      for (const d of results) expect(d.sha256, d.stderr).to.equal(hello);
      done += batch;
    }
    const counts = new Map<MemberName, number>();
    for (const [name, app] of apps) counts.set(name, (await created(app)) - before.get(name)!);
    return counts;
  }
  const show = (counts: Map<MemberName, number>) => [...counts].map(([n, c]) => `${n.toUpperCase()} ${c}`).join(', ');
  const sum = (counts: Map<MemberName, number>) => [...counts.values()].reduce((a, b) => a + b, 0);

  it('ecmp up gives the topology: the router holds the client\'s next hop, sessions with the three, no VIP route yet', function () {
    expect(labNamespaces()).to.include.members([facts.LAB_ECMP_RTR_NS, facts.LAB_ECMP_B_NS, facts.LAB_ECMP_C_NS]);
    const rtr = facts.LAB_ECMP_RTR_NS;
    expect(ip(rtr, '-br', 'addr', 'show', 'dev', facts.LAB_ECMP_RTR_LAN)).to.match(/ 198\.18\.0\.1\/24 2001:db8:18::1\/64 /);
    expect(ip(rtr, '-br', 'addr', 'show', 'dev', facts.LAB_ECMP_RTR_CORE)).to.match(/ 198\.18\.10\.1\/24 2001:db8:18:10::1\/64 /);
    for (const v of ['ipv4', 'ipv6']) expect(execFileSync('ip', ['netns', 'exec', rtr, 'sysctl', '-n', `net.${v}.fib_multipath_hash_policy`], { encoding: 'utf8' }).trim()).to.equal('1');
    for (const m of MEMBERS) {
      const X = m.toUpperCase();
      const ns = facts[`LAB_ECMP_${X}_NS`];
      expect(ip(ns, '-br', 'addr', 'show', 'dev', 'intra0')).to.include(`${facts[`LAB_ECMP_${X}_ADDRESS`]}/24 ${facts[`LAB_ECMP_${X}_ADDRESS6`]}/64`);
      expect(ip(ns, 'route', 'show', '198.18.0.0/24')).to.include(`via ${facts.LAB_ECMP_RTR_ADDRESS} dev intra0`);
      expect(ip(ns, '-6', 'route', 'show', '2001:db8:18::/64')).to.include(`via ${facts.LAB_ECMP_RTR_ADDRESS6} dev intra0`);
    }
    // The client is as `up` made it: its routes still go to 198.18.0.1, the router's now.
    expect(clientState(facts.LAB_NS_CLIENT)).to.equal(client);
    expect(establishedSessions(facts)).to.equal(6);
    expect(routeNhid(facts, `${facts.LAB_VIP}/32`)).to.equal(undefined);
    expect(group()).to.equal(undefined);
    expect(ecmpLab('up')).to.equal('');
    expect(() => haLab('up')).to.throw(/the ECMP sort is up/);
  });

  it('with the three appliances running, the router routes both VIPs through a resilient group of their three next hops', async function () {
    const start = Date.now();
    for (const m of MEMBERS) apps.set(m, await startEcmpMember(facts, m));
    for (const app of apps.values()) await app.ready();
    await groupsAre(['a', 'b', 'c'], 10_000);
    console.log(`      the groups held A, B and C ${Date.now() - start} ms after the three appliances were started`);
    const g = group()!;
    expect(g).to.deep.include({ type: 'resilient', buckets: Number(facts.LAB_ECMP_BUCKETS), idleTimer: Number(facts.LAB_ECMP_IDLE_TIMER), unbalancedTimer: Number(facts.LAB_ECMP_UNBALANCED_TIMER) });
    expect(group6()!.type).to.equal('resilient');
    expect(routeNhid(facts, `${facts.LAB_VIP}/32`)).to.equal(Number(facts.LAB_ECMP_GROUP));
    expect(routeNhid(facts, `${facts.LAB_VIP6}/128`)).to.equal(Number(facts.LAB_ECMP_GROUP6));
    // Every member has buckets (a new group shares them out at once).
    expect([...shares(buckets()).keys()].sort()).to.deep.equal(ids(['a', 'b', 'c']));
  });

  it('spreads 60 new connections over all three appliances, and IPv6 ones too', async function () {
    const counts = await connections(60, facts.LAB_VIP);
    console.log(`      60 connections through ${facts.LAB_VIP}: ${show(counts)}`);
    expect(sum(counts)).to.equal(60);
    for (const [name, c] of counts) expect(c, `appliance ${name}`).to.be.greaterThan(0);
    const counts6 = await connections(12, facts.LAB_VIP6);
    console.log(`      12 connections through ${facts.LAB_VIP6}: ${show(counts6)}`);
    expect(sum(counts6)).to.equal(12);
  });

  it('takes C out of the groups once C is SIGKILLed, moving only C\'s buckets; A and B carry every new connection', async function () {
    const before = buckets();
    const c = apps.get('c')!;
    apps.delete('c');
    c.signal('SIGKILL');
    // About 1 s of it is the kernel's: C's five devices lose their carrier at once, and linkwatch,
    // which turns a carrier loss into the operational state zebra follows, handles the first at
    // once and the others a second later (it runs at most once a second for such events).
    const ms = await groupsAre(['a', 'b'], 10_000);
    console.log(`      C's next hop out of the IPv4 group ${ms.v4} ms, out of the IPv6 group ${ms.v6} ms after its SIGKILL`);
    await c.stop();
    const after = buckets();
    const cId = nexthopOf(facts, 'c');
    for (const [index, nh] of before) {
      if (nh !== cId) expect(after.get(index), `bucket ${index}`).to.equal(nh);
      else expect(after.get(index), `bucket ${index}`).to.not.equal(cId);
    }
    const counts = await connections(30, facts.LAB_VIP);
    console.log(`      30 connections without C: ${show(counts)}`);
    expect(sum(counts)).to.equal(30);
  });

  it('puts C back in the groups once it runs again, moving only C\'s share', async function () {
    const before = buckets();
    const start = Date.now();
    const c = await startEcmpMember(facts, 'c');
    apps.set('c', c);
    await c.ready();
    const ms = await groupsAre(['a', 'b', 'c'], 10_000);
    console.log(`      C's next hop in the IPv4 group ${ms.v4} ms, in the IPv6 group ${ms.v6} ms after it answered (${Date.now() - start} ms after it was started)`);
    const cId = nexthopOf(facts, 'c');
    // Idle buckets go to C after idle_timer; this suite's connections are over, so all are idle.
    const idle = await until('C\'s share of the buckets', () => (shares(buckets()).get(cId) ?? 0) >= Math.floor(Number(facts.LAB_ECMP_BUCKETS) / 3), 10_000, undefined, 20);
    console.log(`      C has ${shares(buckets()).get(cId)} of ${facts.LAB_ECMP_BUCKETS} buckets ${idle} ms after it was in the groups`);
    for (const [index, nh] of buckets()) if (nh !== cId) expect(nh, `bucket ${index}`).to.equal(before.get(index));
    const counts = await connections(30, facts.LAB_VIP);
    console.log(`      30 connections with C back: ${show(counts)}`);
    expect(sum(counts)).to.equal(30);
    expect(counts.get('c')).to.be.greaterThan(0);
  });

  it('ecmp down gives the normal lab back, and ecmp down again changes nothing', async function () {
    await stopAll();
    ecmpLab('down');
    expect(normalLab()).to.equal(normal);
    for (const ns of [facts.LAB_ECMP_RTR_NS, facts.LAB_ECMP_B_NS, facts.LAB_ECMP_C_NS]) expect(labNamespaces()).to.not.include(ns);
    expect(labFacts().LAB_ECMP).to.equal(undefined);
    ecmpLab('down');
    expect(normalLab()).to.equal(normal);
  });
});
