import { expect } from 'chai';
import { createSocket, type Socket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { IpfixExporter, MESSAGE_MAX, type ExportSource } from '../../../appliance/export/exporter';
import { Connection } from '../../../appliance/flow/connection';
import { ConnectionTable } from '../../../appliance/flow/table';
import { EndReason } from '../../../appliance/stats/end-reason';
import { ip } from '../wire/packets';
import { ipv4, text, uint } from '../../lab/ipfix-decode';
import { Collector, LOOPBACK } from './collector';

/** The parts of the appliance the exporter reads, with a table of its own. */
function source(): ExportSource & { clock: number } {
  const s = {
    clock: 100,
    started: 1_700_000_000_000,
    config: { appliance: { socksPort: 1080 }, servers: [{ name: 'sa', address: ip('198.19.1.2'), port: 1080, local: { address: ip('198.19.1.1'), length: 24 } }] },
    alps: { names: ['http'] },
    dispatcher: { table: new ConnectionTable(1, 10, 10) },
    now: () => s.clock,
  };
  return s;
}

/** A connection as the exporter sees it; in `table` when given (the interim records walk it). */
function connection(port: number, created: number, destination = 'web.socksalp.test:80', table?: ConnectionTable): Connection {
  const c = table ? table.create(ip('198.18.0.2'), port, ip('198.18.0.100'), created)! : new Connection(ip('198.18.0.2'), port, ip('198.18.0.100'), created);
  Object.assign(c, { server: 0, allocPort: 50000 + (port % 1000), alp: 0, destination, bytesIn: 1000, packetsIn: 10, bytesOut: 5000, packetsOut: 8, lastSeen: created + 1 });
  return c;
}

describe('export/exporter: IPFIX messages over UDP', function () {
  const made: { stop(done?: () => void): void }[] = [];
  const sockets: Socket[] = [];
  afterEach(async function () {
    for (const e of made.splice(0)) await new Promise<void>((r) => e.stop(r));
    for (const s of sockets.splice(0)) s.close();
  });

  async function exporter(port: number, interim = 60, log: string[] = []) {
    const src = source();
    const e = new IpfixExporter({ address: ip(LOOPBACK), port, interim, templateRefresh: 60, observationDomain: 4242 }, src, (m) => log.push(m));
    made.push(e);
    await e.start();
    return { e, src };
  }

  it('numbers messages by the data records sent before them (3.1), templates not counted, and stamps time and domain', async function () {
    const col = new Collector();
    sockets.push(col.socket);
    const { e } = await exporter(await col.listen());
    const before = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 3; i++) e.ended(Object.assign(connection(40000 + i, 90), { endReason: EndReason.Fin }));
    e.flush();
    for (let i = 3; i < 5; i++) e.ended(Object.assign(connection(40000 + i, 90), { endReason: EndReason.IdleTimeout }));
    e.flush();
    e.sendTemplate();
    e.ended(connection(40005, 90));
    e.flush();
    const ms = await col.next(5);
    const after = Math.ceil(Date.now() / 1000);
    expect(ms.map((m) => [m.templates.length, m.records.length, m.sequence])).to.deep.equal([
      [4, 0, 0], // the templates at start, one per pair of families
      [0, 3, 0],
      [0, 2, 3],
      [4, 0, 5], // the templates again: they do not move the sequence
      [0, 1, 5],
    ]);
    for (const m of ms) {
      expect(m.version).to.equal(10);
      expect(m.domain).to.equal(4242);
      expect(m.exportTime).to.be.within(before, after);
      expect(m.unknownSets).to.equal(0);
    }
    const r = ms[1].records[0];
    expect([ipv4(r.get('0/8')), uint(r.get('0/7')), ipv4(r.get('0/12')), uint(r.get('0/11'))]).to.deep.equal(['198.18.0.2', 40000, '198.18.0.100', 1080]);
    expect([ipv4(r.get('0/225')), uint(r.get('0/227')), ipv4(r.get('0/226')), uint(r.get('0/228'))]).to.deep.equal(['198.19.1.1', 50000, '198.19.1.2', 1080]);
    expect([uint(r.get('0/1')), uint(r.get('0/2')), uint(r.get('29305/1')), uint(r.get('29305/2'))]).to.deep.equal([1000, 10, 5000, 8]);
    expect(uint(r.get('0/152'))).to.equal(1_700_000_090_000);
    expect([text(r.get('32473/9')), text(r.get('32473/10')), text(r.get('32473/11'))]).to.deep.equal(['http', 'sa', 'web.socksalp.test:80']);
    expect(uint(ms[2].records[0].get('0/136')), 'idle timeout').to.equal(1);
    expect(e.status()).to.include({ collector: '127.0.0.1:' + col.socket.address().port, records: 6, messages: 5, templates: 2, errors: 0, lostRecords: 0 });
  });

  it('fills messages up to MESSAGE_MAX and starts another, the sequence going on', async function () {
    const col = new Collector();
    sockets.push(col.socket);
    const { e } = await exporter(await col.listen());
    const long = 'a-rather-long-host-name-for-a-destination.socksalp.test:8080';
    for (let i = 0; i < 40; i++) e.ended(Object.assign(connection(41000 + i, 90, long), { endReason: EndReason.Fin }));
    e.flush();
    const ms = (await col.next(4)).slice(1);
    const counts = ms.map((m) => m.records.length);
    expect(counts.reduce((a, b) => a + b, 0)).to.equal(40);
    expect(counts.length).to.be.at.least(3);
    expect(Math.max(...col.sizes)).to.be.at.most(MESSAGE_MAX);
    expect(col.sizes[1], 'a full message is close to the bound').to.be.above(MESSAGE_MAX - 200);
    let seq = 0;
    for (const m of ms) {
      expect(m.sequence).to.equal(seq);
      seq += m.records.length;
    }
    expect(ms.flatMap((m) => m.records.map((r) => uint(r.get('0/7'))))).to.deep.equal(Array.from({ length: 40 }, (_, i) => 41000 + i));
  });

  it('sends interim records for connections open longer than interim, and deltas in the last record', async function () {
    const col = new Collector();
    sockets.push(col.socket);
    const { e, src } = await exporter(await col.listen(), 1);
    const old = connection(42000, 10, undefined, src.dispatcher.table); // open 90 s
    connection(42001, 99.5, undefined, src.dispatcher.table); // open 0.5 s: not yet
    await sleep(1300); // the interim timer, then the flush timer
    e.flush();
    const interim = (await col.next(2)).flatMap((m) => m.records);
    expect(interim.map((r) => uint(r.get('0/7')))).to.deep.equal([42000]);
    expect(uint(interim[0].get('0/136')), 'active timeout').to.equal(2);
    expect([uint(interim[0].get('0/1')), uint(interim[0].get('29305/1'))]).to.deep.equal([1000, 5000]);
    Object.assign(old, { bytesIn: 1500, packetsIn: 14, bytesOut: 9000, packetsOut: 12, endReason: EndReason.ClientReset });
    e.ended(old); // as the dispatcher tells it, before the table lets it go
    src.dispatcher.table.remove(old);
    e.flush();
    const last = (await col.next(col.messages.length + 1)).at(-1)!.records[0];
    expect([uint(last.get('0/1')), uint(last.get('0/2')), uint(last.get('29305/1')), uint(last.get('29305/2'))]).to.deep.equal([500, 4, 4000, 4]);
    expect(uint(last.get('0/136')), 'end of flow detected').to.equal(3);
    expect(uint(last.get('32473/8')), "the appliance's own reason").to.equal(EndReason.ClientReset);
    expect(e.status()).to.include({ interimRecords: 1 });
  });

  it('sends what waits when it stops (the records of the connections the appliance ends at its stop)', async function () {
    const col = new Collector();
    sockets.push(col.socket);
    const { e } = await exporter(await col.listen());
    made.pop(); // stopped here
    e.ended(Object.assign(connection(44000, 90), { endReason: EndReason.Shutdown }));
    await new Promise<void>((r) => e.stop(r));
    const r = (await col.next(2))[1].records[0];
    expect([uint(r.get('0/7')), uint(r.get('0/136')), uint(r.get('32473/8'))], 'forced end').to.deep.equal([44000, 4, EndReason.Shutdown]);
  });

  it('counts a collector that is not there (ICMP port unreachable), logs it once, and goes on', async function () {
    const probe = createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, LOOPBACK, r));
    const port = probe.address().port;
    probe.close(); // nothing listens there now
    const log: string[] = [];
    const { e } = await exporter(port, 60, log);
    for (let i = 0; i < 6; i++) {
      e.ended(connection(43000 + i, 90));
      e.flush();
      await sleep(30);
    }
    const st = e.status() as { errors: number; lostRecords: number; messages: number };
    expect(st.errors).to.be.at.least(1);
    expect(st.lostRecords + st.messages).to.be.at.least(6);
    expect(st.lostRecords).to.be.at.least(1);
    expect(log.filter((l) => /ECONNREFUSED/.test(l))).to.have.length(1);
    // It is back: records arrive again.
    const col = new Collector();
    sockets.push(col.socket);
    await new Promise<void>((r) => col.socket.bind(port, LOOPBACK, r));
    e.sendTemplate(); // what the refresh timer does: a collector that (re)starts learns the template
    e.ended(connection(43100, 90));
    e.flush();
    const ms = await col.next(2);
    expect(ms.flatMap((m) => m.records).map((r) => uint(r.get('0/7')))).to.deep.equal([43100]);
  });

  it('counts only the templates sent: none while the socket could not connect', async function () {
    const log: string[] = [];
    const { e } = await exporter(0, 60, log); // port 0: the socket refuses to connect, so it never is
    e.sendTemplate(); // what the refresh timer does
    e.ended(connection(43200, 90));
    e.flush();
    await sleep(30);
    expect(e.status()).to.include({ templates: 0, messages: 0, octets: 0, records: 1, lostRecords: 1 });
    expect(log.filter((l) => /ERR_SOCKET_BAD_PORT/.test(l)), 'the failure, logged once').to.have.length(1);
  });
});
