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
        for (const c of table.connections()) table.remove(c);
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
      for (const c of table.connections()) table.remove(c);
    }
    expect(ADDRESSES6.size).to.equal(held);
  });

  it('gives 1,000,000 connections enough servers: ports are per server', () => {
    expect(serversFor(1000)).to.equal(4);
    expect(serversFor(1_000_000)).to.equal(16);
    expect(serversFor(1_000_000) * 64512).to.be.at.least(1_000_000);
  });
});

describe('table-heap bench', () => {
  const BENCH = join(__dirname, '..', '..', 'bench', 'table-heap.js');

  it('measures a small table: the typed arrays counted one by one, and a handle with nothing of its own', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', BENCH, '--count', '5000', '--family', 'mixed'], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).to.match(/^table heap, 5000 mixed IPv4\/IPv6 spliced connections/);
    const j = JSON.parse(lines[lines.length - 1]);
    expect(j.object.instances).to.equal(1000);
    expect(j.table.internerEntries, 'the IPv6 clients, and the VIP').to.equal(2500 + 1);
    // A handle holds its number and the handshake (null once spliced): no heap number, no string of its own.
    expect([j.object.heapNumbers, j.object.strings, j.object.other]).to.deep.equal([0, 0, 0]);
    expect(j.object.self).to.be.at.most(48);
    // The typed arrays counted one by one make up the arrayBuffers' growth.
    const typed = j.perConnection.columns + j.perConnection.clientIndex + j.perConnection.portMaps + j.perConnection.interner;
    expect(Math.abs(typed - j.perConnection.arrayBuffers) / j.perConnection.arrayBuffers).to.be.below(0.05);
    expect(j.perConnection.portMaps).to.be.closeTo((4 * 4 * 65536) / 5000, 0.1);
    expect(j.table.capacity).to.equal(5000);
  });

  it('refuses a bad option with what it expected', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', BENCH, '--family', '5'], { encoding: 'utf8' });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.include('--family expects 4, 6 or mixed, not 5');
  });
});
