import { expect } from 'chai';
import type { AlpTable, ServerRecord } from '../../../appliance/config/tables';
import { TrafficAnalyzer } from '../../../appliance/stages/traffic-analyzer';
import { PriorityFinder } from '../../../appliance/stages/priority-finder';
import { CongestionControl } from '../../../appliance/stages/congestion-control';
import { ServerSelection, type ServerAvailability } from '../../../appliance/stages/server-selection';
import { RoundRobin } from '../../../appliance/stages/schedulers/rr';
import { AlpRegistry } from '../../../appliance/stages/alp-registry';
import { D4, D4A, D5, speaks } from '../../../appliance/flow/dialect';
import { OutputQueue } from '../../../appliance/forward/output-queue';
import { PacketPool } from '../../../appliance/device/packet-pool';

/** The patent's example ALPs (figure 9): Gopher and FTP lowest, Telnet and HTTP highest. */
const PATENT_ALPS: AlpTable = {
  records: [
    { name: 'gopher', ports: [70], priority: 1, discardEligible: true },
    { name: 'ftp', ports: [20, 21], priority: 1, discardEligible: false },
    { name: 'telnet', ports: [23], priority: 7, discardEligible: true },
    { name: 'http', ports: [80, 8080], priority: 7, discardEligible: false },
  ],
  fallback: { name: 'default', ports: [], priority: 4, discardEligible: true },
};
const REGISTRY = new AlpRegistry();
const IDS = REGISTRY.adopt(PATENT_ALPS);
const [GOPHER, FTP, TELNET, HTTP, DEFAULT] = IDS;

describe('stages: Traffic Analyzer (figure 7)', function () {
  const t = new TrafficAnalyzer(1080, PATENT_ALPS, IDS);
  it('tells SOCKS by the destination port (step 702)', function () {
    expect(t.isSocks(1080)).to.equal(true);
    expect(t.isSocks(80)).to.equal(false);
  });
  it('finds the ALP from the CONNECT request DSTPORT (step 707), default for the rest', function () {
    expect(t.alpOf(80)).to.equal(HTTP);
    expect(t.alpOf(8080)).to.equal(HTTP);
    expect(t.alpOf(21)).to.equal(FTP);
    expect(t.alpOf(70)).to.equal(GOPHER);
    expect(t.alpOf(22)).to.equal(DEFAULT);
    expect(REGISTRY.names[DEFAULT]).to.equal('default');
  });
});

describe('stages: ALP ids across reloads', function () {
  it('keeps each name\'s id when a table inserts, removes or reorders ALPs; new names get new ids', function () {
    const reg = new AlpRegistry();
    expect(reg.adopt(PATENT_ALPS)).to.deep.equal([0, 1, 2, 3, 4]);
    const [gopher, ftp, telnet, http, fallback] = PATENT_ALPS.records.concat(PATENT_ALPS.fallback);
    const ssh = { name: 'ssh', ports: [22], priority: 6, discardEligible: false };
    const next: AlpTable = { records: [ssh, http, { ...telnet, priority: 1 }, gopher], fallback };
    const ids = reg.adopt(next);
    expect(ids).to.deep.equal([5, 3, 2, 0, 4]);
    expect(reg.isInForce(1), 'ftp removed').to.equal(false);
    expect(reg.records[1]).to.equal(ftp);
    expect(reg.records[2].priority, 'telnet\'s latest rules').to.equal(1);
    const t = new TrafficAnalyzer(1080, next, ids);
    const p = new PriorityFinder(next, ids);
    expect([t.alpOf(22), t.alpOf(80), t.alpOf(21)]).to.deep.equal([5, 3, 4]); // ftp's port falls to the default
    expect([p.priorityOf(5), p.priorityOf(2), p.priorityOf(0)]).to.deep.equal([6, 1, 1]);
  });
});

describe('stages: Priority Finder (figure 8)', function () {
  it('gives Datagram_Priority and Discard_Eligible from the cached table', function () {
    const p = new PriorityFinder(PATENT_ALPS, IDS);
    expect(p.priorityOf(HTTP)).to.equal(7);
    expect(p.priorityOf(GOPHER)).to.equal(1);
    expect(p.isDiscardEligible(TELNET)).to.equal(true);
    expect(p.isDiscardEligible(FTP)).to.equal(false);
    expect(p.priorityOf(DEFAULT)).to.equal(4);
  });
});

describe('stages: Congestion Control (figure 9)', function () {
  const priorities = new PriorityFinder(PATENT_ALPS, IDS);
  const pool = new PacketPool(64, 1500);

  function queue(bound: number, alps: number[], protectedAt: number[] = []) {
    const q = new OutputQueue(bound, pool);
    alps.forEach((a, i) => q.push(pool.take(), 60, a, priorities.priorityOf(a), priorities.isDiscardEligible(a), protectedAt.includes(i)));
    return q;
  }
  const contents = (q: OutputQueue) => Array.from({ length: q.length }, (_, i) => q.alpAt(i));

  it('discards Gopher first, then Telnet, then FTP, HTTP last (the patent\'s example)', function () {
    const cc = new CongestionControl();
    const discarded: number[] = [];
    const onDiscard = (alp: number) => discarded.push(alp);
    const q = queue(4, [HTTP, FTP, TELNET, GOPHER]);
    const admit = (alp: number) => {
      q.push(pool.take(), 60, alp, priorities.priorityOf(alp), priorities.isDiscardEligible(alp), false);
      return cc.admit(q, 4, onDiscard);
    };
    expect(admit(HTTP)).to.equal(true);
    expect(discarded).to.deep.equal([GOPHER]); // ListD: discard-eligible, lowest priority
    expect(admit(FTP)).to.equal(true);
    expect(discarded).to.deep.equal([GOPHER, TELNET]); // ListD: the only discard-eligible left
    expect(admit(HTTP)).to.equal(true);
    expect(discarded).to.deep.equal([GOPHER, TELNET, FTP, FTP]); // ListD empty: all of the lowest priority
    expect(contents(q)).to.deep.equal([HTTP, HTTP, HTTP]);
    q.clear();
  });

  it('says when the arriving datagram itself was discarded (steps 906-907)', function () {
    const cc = new CongestionControl();
    const q = queue(2, [HTTP, HTTP]);
    q.push(pool.take(), 60, GOPHER, 1, true, false);
    expect(cc.admit(q, 2, () => undefined)).to.equal(false);
    expect(contents(q)).to.deep.equal([HTTP, HTTP]);
    q.clear();
  });

  it('loops until the queue is within its bound, and never discards protected datagrams', function () {
    const cc = new CongestionControl();
    let n = 0;
    const q = queue(2, [GOPHER, HTTP, FTP, TELNET, HTTP], [0]);
    q.push(pool.take(), 60, HTTP, 7, false, false);
    expect(cc.admit(q, 2, () => n++)).to.equal(false);
    // Protected Gopher stays; Telnet (ListD), then FTP, then all HTTP (lowest left) go.
    expect(contents(q)).to.deep.equal([GOPHER]);
    expect(n).to.equal(5);
    q.clear();
    expect(pool.available).to.equal(64);
  });
});

describe('stages: Server ALP Selection (figure 10)', function () {
  const server = (name: string, capacity: number, alps: string[] | 'ALL', extra: Partial<ServerRecord> = {}): ServerRecord => ({
    name, address: 0, port: 1080, tap: 't', local: { address: 0, length: 24 }, capacity,
    alps: alps === 'ALL' ? { all: true } : { all: false, names: alps }, isDefault: false, versions: ['4', '5'], queueLimit: 64, ...extra,
  });
  const names = ['gopher', 'ftp', 'telnet', 'http', 'default'];
  const rules = [{ priority: 7, capacity: 10 }, { priority: 0, capacity: 0 }];
  const up: ServerAvailability = { usable: () => true };
  const ANY = D4 | D4A | D5;
  const pick = (sel: ServerSelection, alp: number, prio: number, times: number, carriers = ANY, avail = up, tried = 0) =>
    Array.from({ length: times }, () => sel.select(alp, prio, carriers, avail, tried));
  const selection = (servers: ServerRecord[], r = rules) => new ServerSelection(servers, servers.map(speaks), names, r, new RoundRobin());

  it('List1 with one server selects it (step 1004)', function () {
    const sel = selection([server('big', 15, ['http']), server('ftp-only', 0, ['ftp'])]);
    expect(pick(sel, FTP, 1, 3)).to.deep.equal([1, 1, 1]);
  });

  it('List2 keeps the servers whose capacity suits the priority (step 1005); one -> it', function () {
    const sel = selection([server('big', 15, 'ALL'), server('small', 0, ['http', 'ftp'])]);
    expect(pick(sel, HTTP, 7, 3)).to.deep.equal([0, 0, 0]);
  });

  it('several in List2 -> round robin (step 1007)', function () {
    const sel = selection([server('a', 15, 'ALL'), server('b', 10, ['http']), server('c', 0, ['ftp'])]);
    expect(pick(sel, HTTP, 7, 4)).to.deep.equal([0, 1, 0, 1]);
    expect(pick(sel, FTP, 1, 4)).to.deep.equal([2, 0, 2, 0]); // capacity >= 0: all of List1
  });

  it('List2 empty -> List1', function () {
    const sel = selection([server('a', 3, 'ALL'), server('b', 4, ['http'])]);
    expect(pick(sel, HTTP, 7, 2)).to.deep.equal([0, 1]);
  });

  it('no server lists the ALP -> the default server (claim 9), or none', function () {
    const withDefault = selection([server('a', 15, ['http']), server('d', 1, ['ftp'], { isDefault: true })]);
    expect(pick(withDefault, TELNET, 7, 2)).to.deep.equal([1, 1]);
    const without = selection([server('a', 15, ['http'])]);
    expect(without.select(TELNET, 7, ANY, up)).to.equal(-1);
  });

  it('skips servers that are down, already tried, or speak no dialect the request can be carried in', function () {
    const sel = selection([server('a', 15, 'ALL', { versions: ['4'] }), server('b', 15, 'ALL', { versions: ['5'] }), server('c', 15, 'ALL', { versions: ['4a'] })]);
    expect(pick(sel, HTTP, 7, 3, D4A | D5), 'a name: SOCKS4a or 5').to.deep.equal([1, 2, 1]);
    expect(pick(sel, HTTP, 7, 2, D5), 'an IPv6 destination: SOCKS5 only').to.deep.equal([1, 1]);
    expect(pick(sel, HTTP, 7, 3, D4 | D4A | D5)).to.deep.equal([2, 0, 1]);
    expect(pick(sel, HTTP, 7, 2, ANY, { usable: (i: number) => i !== 0 })).to.deep.equal([2, 1]);
    expect(sel.select(HTTP, 7, ANY, up, 0b011)).to.equal(2);
    expect(sel.select(HTTP, 7, ANY, up, 0b111)).to.equal(-1);
  });

  it('maps priorities to capacities by the first rule reached', function () {
    const sel = selection([], [{ priority: 7, capacity: 10 }, { priority: 4, capacity: 5 }, { priority: 0, capacity: 0 }]);
    expect([9, 7, 6, 4, 3, 0].map((p) => sel.capacityFor(p))).to.deep.equal([10, 10, 5, 5, 0, 0]);
  });
});
