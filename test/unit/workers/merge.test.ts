import { expect } from 'chai';
import type { ConnRow } from '../../../appliance/control/snapshot';
import { mergePages, sumFigures } from '../../../appliance/workers/merge';
import { ConnectionTable } from '../../../appliance/flow/table';
import { steeredQueue } from '../../../appliance/device/steering';

function row(client: string, o: Partial<ConnRow>): ConnRow {
  return {
    client, adopted: false, alp: 'http', destination: '', dialect: '5', diverted: '', server: 'sa', port: 0, state: 'spliced', age: 0, idle: 0,
    bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0, handshakeMs: -1, replyMs: -1, rttClientMs: -1, rttServerMs: -1,
    throughput: 0, retransIn: 0, retransOut: 0, minLength: 0, maxLength: 0, ...o,
  };
}

describe('workers: the control socket\'s figures over several workers', function () {
  it('adds counters field by field and element by element, and keeps what describes the process', function () {
    const first = { pid: 7, uptime: 30, connections: 3, dispatcher: { spliced: 10, misrouted: 0 }, devices: [{ name: 'alp0', rxPackets: 5 }], runtime: { p99Ms: 2 } };
    const other = { pid: 7, uptime: 31, connections: 4, dispatcher: { spliced: 12, misrouted: 1 }, devices: [{ name: 'alp0', rxPackets: 6 }], runtime: { p99Ms: 9 } };
    expect(sumFigures(first, [other])).to.deep.equal({
      pid: 7, uptime: 30, connections: 7, dispatcher: { spliced: 22, misrouted: 1 }, devices: [{ name: 'alp0', rxPackets: 11 }], runtime: { p99Ms: 2 },
    });
  });

  it('keeps a server\'s configured capacity, versions and queue bound, and sums its traffic', function () {
    const s = (active: number) => ({ name: 'sa', capacity: 10, versions: [4, 5], queueLimit: 256, active, packetsOut: active * 2 });
    expect(sumFigures([s(1)], [[s(2)], [s(3)]])).to.deep.equal([{ name: 'sa', capacity: 10, versions: [4, 5], queueLimit: 256, active: 6, packetsOut: 12 }]);
  });

  it('pages rows of every worker in one order, each worker\'s page already sorted', function () {
    const a = { total: 3, matched: 2, rows: [row('a1', { bytesIn: 90 }), row('a2', { bytesIn: 10 })] };
    const b = { total: 2, matched: 2, rows: [row('b1', { bytesIn: 50 }), row('b2', { bytesIn: 5 })] };
    const page = mergePages([a, b], 1, 2, 'bytes');
    expect(page.total).to.equal(5);
    expect(page.matched).to.equal(4);
    expect(page.rows.map((r) => r.client)).to.deep.equal(['b1', 'a2']);
    expect(mergePages([a, b], 0, 4, '').rows.length).to.equal(4);
  });

  it('a worker\'s table takes only ports the devices steer to it, and all of them', function () {
    for (const [index, count] of [[0, 2], [1, 2], [2, 3]]) {
      const t = new ConnectionTable(1, 10, 10);
      t.partition(index, count);
      const ports = new Set<number>();
      for (let p = t.takePort(0); p >= 0; p = t.takePort(0)) ports.add(p);
      for (const p of ports) expect(steeredQueue(p, count)).to.equal(index);
      let mine = 0;
      for (let p = 1024; p <= 65535; p++) if (steeredQueue(p, count) === index) mine++;
      expect(ports.size).to.equal(mine);
    }
  });
});
