import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ADDRESSES6 } from '../../../appliance/addr/interner';
import { ConnState, type Connection } from '../../../appliance/flow/connection';
import { ConnectionTable } from '../../../appliance/flow/table';
import { serversFor, SyntheticFill, type Family } from '../../bench/table-fill';

/** The table-heap bench measures a valid table: every synthetic connection is where the dispatcher would look for it. */
describe('table-heap bench filler', () => {
  const N = 1000;

  for (const family of [4, 6, 'mixed'] as Family[]) {
    it(`fills the table with ${N} spliced IPv${family === 'mixed' ? '4/6' : family} connections, each found both ways`, () => {
      const servers = serversFor(N);
      const table = new ConnectionTable(servers, N, 1);
      const fill = new SyntheticFill(family);
      const held = ADDRESSES6.size;
      try {
        fill.fillTable(table, N, servers);
        expect(table.size).to.equal(N);
        expect(table.halfOpen).to.equal(0);
        expect(table.stats.created).to.equal(N);
        const perServer = new Array<number>(servers).fill(0);
        const seen = new Set<Connection>();
        for (let i = 0; i < N; i++) {
          const { ip, port } = fill.client(i, false);
          expect(ip, `client ${i}'s address is held`).to.be.at.least(0);
          const c = table.lookupClient(ip, port);
          expect(c, `client ${i}`).to.not.equal(undefined);
          expect([c!.clientIp, c!.clientPort]).to.deep.equal([ip, port]);
          expect(c!.state).to.equal(ConnState.Spliced);
          expect(c!.hs).to.equal(null);
          expect(c!.server).to.equal(i % servers);
          expect(table.lookupServer(c!.server, c!.allocPort)).to.equal(c);
          seen.add(c!);
          perServer[c!.server]++;
        }
        expect(seen.size).to.equal(N);
        expect(perServer).to.deep.equal(new Array(servers).fill(N / servers));
        // An IPv6 client's address is interned once per connection (a distinct address each), and the table gives it back.
        const v6 = family === 4 ? 0 : family === 6 ? N : N / 2;
        expect(ADDRESSES6.size - held).to.equal(v6);
      } finally {
        for (const c of [...table.byClient.values()]) table.remove(c);
      }
      expect(ADDRESSES6.size).to.equal(held);
    });
  }

  it('shares an IPv6 address among --per-address connections', () => {
    const table = new ConnectionTable(4, N, 1);
    const fill = new SyntheticFill(6, 4);
    const held = ADDRESSES6.size;
    try {
      fill.fillTable(table, N, 4);
      expect(ADDRESSES6.size - held).to.equal(N / 4);
      for (let i = 0; i < N; i++) {
        const { ip, port } = fill.client(i, false);
        expect(table.lookupClient(ip, port)?.clientPort).to.equal(port);
      }
    } finally {
      for (const c of [...table.byClient.values()]) table.remove(c);
    }
    expect(ADDRESSES6.size).to.equal(held);
  });

  it('gives the objects-alone run the same connections as the table, but for the server port and the clock', () => {
    const table = new ConnectionTable(4, 10, 1);
    new SyntheticFill(4).fillTable(table, 10, 4);
    const bare: Connection[] = new Array(10);
    new SyntheticFill(4).fillObjects(bare, 10, 4);
    const fields = (c: Connection) => Object.entries(c).filter(([k]) => !['allocPort', 'created', 'lastSeen'].includes(k));
    for (const c of bare) expect(fields(table.lookupClient(c.clientIp, c.clientPort)!)).to.deep.equal(fields(c));
  });

  it('gives 1,000,000 connections enough servers: ports are per server', () => {
    expect(serversFor(1000)).to.equal(4);
    expect(serversFor(1_000_000)).to.equal(16);
    expect(serversFor(1_000_000) * 64512).to.be.at.least(1_000_000);
  });
});

describe('table-heap bench', () => {
  const BENCH = join(__dirname, '..', '..', 'bench', 'table-heap.js');

  it('measures a small table, and its two measures of one Connection agree', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', BENCH, '--count', '5000', '--family', 'mixed'], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).to.match(/^table heap, 5000 mixed IPv4\/IPv6 spliced connections/);
    const j = JSON.parse(lines[lines.length - 1]);
    expect(j.object.instances).to.equal(1000);
    expect(j.table.internerEntries - j.objects.internerEntries).to.equal(2500);
    // The heap snapshot's object + what it alone holds, against the difference over 5000 of them.
    expect(Math.abs(j.object.total - j.perConnection.objects) / j.perConnection.objects).to.be.below(0.2);
    expect(j.perConnection.heapUsed).to.be.above(j.perConnection.objects);
    expect(j.perConnection.portMaps).to.be.closeTo((4 * 65536) / 5000, 0.1);
  });

  it('refuses a bad option with what it expected', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', BENCH, '--family', '5'], { encoding: 'utf8' });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.include('--family expects 4, 6 or mixed, not 5');
  });
});
