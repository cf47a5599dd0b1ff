import { expect } from 'chai';
import { V6_BASE } from '../../../appliance/addr/interner';
import { ClientIndex, hashClient } from '../../../appliance/flow/client-index';
import { ConnectionColumns } from '../../../appliance/flow/columns';
import { ConnState, Connection } from '../../../appliance/flow/connection';
import { HEALTH_CHECK, ServerPorts } from '../../../appliance/flow/server-ports';
import { ConnectionTable } from '../../../appliance/flow/table';
import { TEXTS } from '../../../appliance/flow/texts';
import { ip } from '../wire/packets';

const VIP = ip('198.18.0.100');
const BASE = ip('198.18.1.0');

/** Clients (address, port) whose home slot in a table of `slots` is `home`, the first `n` found. */
function colliding(n: number, slots: number, home: number): [number, number][] {
  const found: [number, number][] = [];
  for (let a = 0; found.length < n; a++) {
    for (let port = 1024; port < 1100 && found.length < n; port++) {
      if ((hashClient(BASE + a, port) & (slots - 1)) === home) found.push([BASE + a, port]);
    }
  }
  return found;
}

describe('flow/columns and the table\'s indexes: the Socks ALP Connection table as typed arrays', () => {
  const made: Connection[] = [];
  const row = (a: number, port: number) => {
    const c = new Connection(a, port, VIP, 0);
    made.push(c);
    return c;
  };
  afterEach(() => {
    for (const c of made.splice(0)) c.retire();
  });

  describe('ClientIndex (open addressing by the clientIp and clientPort columns)', () => {
    it('finds colliding clients along their run, and backward-shift deletion keeps the others reachable', () => {
      const index = new ClientIndex();
      // Five clients at home slot 2046 of 2048: their run wraps round to slots 0, 1 and 2.
      const cs = colliding(5, 2048, 2046).map(([a, p]) => row(a, p));
      for (const c of cs) index.insert(c.id);
      for (const c of cs) expect(index.find(c.clientIp, c.clientPort)).to.equal(c.id);
      index.delete(cs[1].id);
      expect(index.find(cs[1].clientIp, cs[1].clientPort)).to.equal(-1);
      for (const c of [cs[0], cs[2], cs[3], cs[4]]) expect(index.find(c.clientIp, c.clientPort), `after the hole, ${c.clientPort}`).to.equal(c.id);
      index.delete(cs[0].id);
      index.delete(cs[4].id);
      for (const c of [cs[2], cs[3]]) expect(index.find(c.clientIp, c.clientPort)).to.equal(c.id);
      index.delete(cs[2].id);
      index.delete(cs[3].id);
      // No tombstones: the run is gone, and a new client with that home lands in its home slot.
      expect(index.size).to.equal(0);
      const [a, p] = colliding(6, 2048, 2046)[5];
      index.insert(row(a, p).id);
      expect(index.find(a, p)).to.equal(made[made.length - 1].id);
    });

    it('tells an IPv6 client from the IPv4 address of the same low 32 bits, and an unknown port', () => {
      const index = new ClientIndex();
      const v4 = row(7, 40000);
      const v6 = row(V6_BASE + 7, 40000);
      index.insert(v4.id);
      index.insert(v6.id);
      expect([index.find(7, 40000), index.find(V6_BASE + 7, 40000), index.find(7, 40001)]).to.deep.equal([v4.id, v6.id, -1]);
      // The columns hold 32 bits and a flag: each reads back as the number it was made with.
      expect([v4.clientIp, v6.clientIp, v6.vip]).to.deep.equal([7, V6_BASE + 7, VIP]);
      const both6 = row(V6_BASE + 2 ** 21, 1);
      const mixed = new Connection(7, 1, V6_BASE + 3, 0);
      made.push(mixed);
      expect(mixed.vip).to.equal(V6_BASE + 3);
      expect(both6.clientIp).to.equal(V6_BASE + 2 ** 21);
    });

    it('grows past half of its slots and still finds every client', () => {
      const index = new ClientIndex();
      const cs = Array.from({ length: 3000 }, (_, i) => row(BASE + (i >> 4), 1024 + (i & 15)));
      for (const c of cs) index.insert(c.id);
      expect(index.size).to.equal(3000);
      expect((index as unknown as { slots: Int32Array }).slots.length).to.equal(8192);
      for (const c of cs) expect(index.find(c.clientIp, c.clientPort)).to.equal(c.id);
    });
  });

  describe('ConnectionColumns', () => {
    it('doubles its rows up to the limit asked, copying every column, and reuses numbers given back first', () => {
      const cols = new ConnectionColumns(4);
      const ns = [0, 1, 2, 3].map(() => cols.allocate(6));
      for (const n of ns) cols.delta[n] = -1000 - n;
      cols.bytesIn[3] = 2 ** 40 + 1;
      expect(cols.allocate(6)).to.equal(4);
      expect(cols.capacity, 'doubled, but no further than the limit').to.equal(6);
      expect([...cols.delta.subarray(0, 4)]).to.deep.equal([-1000, -1001, -1002, -1003]);
      expect(cols.bytesIn[3]).to.equal(2 ** 40 + 1);
      expect(cols.handles).to.have.length(6);
      cols.free(2);
      cols.free(0);
      expect([cols.allocate(6), cols.allocate(6), cols.allocate(6)], 'the last given back first, then the never used').to.deep.equal([0, 2, 5]);
      cols.allocate(6);
      expect(cols.capacity, 'past the limit: doubled').to.equal(12);
    });
  });

  describe('ServerPorts', () => {
    it('allocates ports in rotation, tells a health check\'s port from a connection\'s, and gives them back', () => {
      const ports = new ServerPorts(2);
      const a = ports.take(0, 41);
      const b = ports.take(0, HEALTH_CHECK);
      expect(b).to.equal(a === 65535 ? 1024 : a + 1);
      expect([ports.connection(0, a), ports.connection(0, b), ports.connection(1, a)]).to.deep.equal([41, -1, -1]);
      const again = ports.take(0, 42);
      expect([again === a, again === b]).to.deep.equal([false, false]);
      ports.release(0, a);
      expect(ports.connection(0, a)).to.equal(-1);
    });

    it('says -1 once every port towards a server is taken, and has the port given back next', () => {
      const ports = new ServerPorts(1);
      const taken = new Set<number>();
      for (let i = 0; i < 64512; i++) taken.add(ports.take(0, i));
      expect(taken.size).to.equal(64512);
      expect(Math.min(...taken)).to.equal(1024);
      expect(ports.take(0, 0)).to.equal(-1);
      ports.release(0, 30000);
      expect(ports.take(0, 7)).to.equal(30000);
      expect(ports.connection(0, 30000)).to.equal(7);
    });
  });

  describe('ConnectionTable', () => {
    it('never lets a handle kept after remove read or write the connection that took its number', () => {
      const table = new ConnectionTable(1, 10, 10);
      const old = table.create(BASE, 40000, VIP, 1)!;
      table.bindServer(old, 0);
      old.destination = 'stale-handle.test:80'; // a text no other test holds
      const n = old.id;
      const texts = TEXTS.size;
      table.remove(old);
      expect([old.id, table.holds(old), TEXTS.size]).to.deep.equal([-1, false, texts - 1]);
      const young = table.create(BASE + 1, 40001, VIP, 2)!;
      expect(young.id, 'the number is reused').to.equal(n);
      young.delta = 123;
      young.destination = '203.0.113.10:80';
      // The stale handle writes everywhere it can, and reads nothing of the new connection.
      Object.assign(old, { state: ConnState.Closed, delta: -5, upNext: 9, clientIsn: 1, server: 0, bytesIn: 1e12, lastSeen: 99, endReason: 3, discardEligible: true, finFromClient: true, destination: 'elsewhere:1' });
      expect([old.state, old.delta, old.clientIp, old.bytesIn, old.destination, old.finFromClient]).to.deep.equal([undefined, undefined, undefined, undefined, undefined, false]);
      expect([young.state, young.delta, young.upNext, young.clientIsn, young.server, young.bytesIn, young.lastSeen, young.endReason, young.discardEligible, young.finFromClient])
        .to.deep.equal([ConnState.SynReceived, 123, 0, 0, -1, 0, 2, 0, false, false]);
      expect([young.destination, young.clientIp, young.clientPort]).to.deep.equal(['203.0.113.10:80', BASE + 1, 40001]);
      // Removing the stale handle again takes nothing out.
      table.remove(old);
      expect([table.size, table.lookupClient(BASE + 1, 40001)]).to.deep.equal([1, young]);
      table.remove(young);
    });

    it('starts every reused number afresh, and indexes it both ways', () => {
      const table = new ConnectionTable(1, 10, 10);
      const a = table.create(BASE, 40000, VIP, 1)!;
      Object.assign(a, { alp: 3, winToClient: 500, rttClientUs: 77, minLength: 40, maxLength: 1500, packetsIn: 9, timing: 1 });
      table.bindServer(a, 0);
      const port = a.allocPort;
      table.remove(a);
      expect(table.lookupServer(0, port)).to.equal(undefined);
      const b = table.create(BASE, 40000, VIP, 5)!;
      expect([b.alp, b.winToClient, b.rttClientUs, b.minLength, b.maxLength, b.packetsIn, b.timing, b.created, b.hs !== null]).to.deep.equal([-1, -1, -1, 65535, 0, 0, 0, 5, true]);
      table.bindServer(b, 0);
      expect([table.lookupClient(BASE, 40000), table.lookupServer(0, b.allocPort)]).to.deep.equal([b, b]);
      table.remove(b);
    });

    it('walks oldest first, skipping what is removed on the way and reaching what is added at the end', () => {
      const table = new ConnectionTable(1, 10, 10);
      const [a, b, c] = [0, 1, 2].map((i) => table.create(BASE, 40000 + i, VIP, i)!);
      const p = table.pass();
      expect(table.next(p)).to.equal(a);
      table.remove(b); // the next one
      table.remove(a); // the one just visited
      expect(table.next(p)).to.equal(c);
      const d = table.create(BASE, 40010, VIP, 3)!;
      expect(table.next(p)).to.equal(d);
      expect(table.next(p)).to.equal(undefined);
      table.rewind(p);
      expect(table.next(p)).to.equal(c);
      table.endPass(p);
      expect(table.connections()).to.deep.equal([c, d]);
      for (const x of table.connections()) table.remove(x);
      expect([table.size, table.connections().length]).to.deep.equal([0, 0]);
      expect([c.id, d.id]).to.deep.equal([-1, -1]);
    });
  });
});
