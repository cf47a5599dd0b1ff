import { expect } from 'chai';
import { parseAddress } from '../../../appliance/addr/address';
import { IpfixExporter, type ExportSource } from '../../../appliance/export/exporter';
import { flowRecordLength, flowTemplateBits, type RecordContext } from '../../../appliance/export/flow-record';
import { Connection } from '../../../appliance/flow/connection';
import { ConnectionTable } from '../../../appliance/flow/table';
import { EndReason } from '../../../appliance/stats/end-reason';
import { ipv4, ipv6, text, uint } from '../../lab/ipfix-decode';
import { Collector, LOOPBACK } from './collector';

/** Hex with spaces, as the golden bytes below are written. */
const hex = (...parts: string[]): string => parts.join('').replace(/\s+/g, '');

const addr = (text: string): number => {
  const a = parseAddress(text);
  if (a === undefined) throw new Error(`not an address: ${text}`);
  return a;
};

/**
 * The Template Records as RFC 7011 3.4.1 and 3.2 spell them, by hand: the fields every
 * template has, with the address elements of each leg's family put in. IANA's numbers:
 * sourceIPv4Address 8, destinationIPv4Address 12, sourceIPv6Address 27 (0x1b),
 * destinationIPv6Address 28 (0x1c), postNATSourceIPv4Address 225 (0xe1),
 * postNATDestinationIPv4Address 226 (0xe2), postNATSourceIPv6Address 281 (0x119),
 * postNATDestinationIPv6Address 282 (0x11a).
 */
function templateRecord(id: number, client6: boolean, server6: boolean): string {
  return hex(
    id.toString(16).padStart(4, '0'), '0020', // 32 fields
    client6 ? '001b 0010 001c 0010' : '0008 0004 000c 0004',
    '0007 0002 000b 0002 0004 0001',
    server6 ? '0119 0010 011a 0010' : '00e1 0004 00e2 0004',
    '00e3 0002 00e4 0002',
    '0001 0008 0002 0008 8001 0008 00007279 8002 0008 00007279',
    '0098 0008 0099 0008 0006 0002 8006 0002 00007279 0088 0001',
    '800d 0002 00007ed9 800e 0002 00007ed9 8001 0001 00007ed9',
    '8002 0004 00007ed9 8003 0004 00007ed9 8004 0004 00007ed9 8005 0004 00007ed9',
    '8006 0004 00007ed9 8007 0004 00007ed9 8008 0001 00007ed9',
    '8009 ffff 00007ed9 800a ffff 00007ed9 800b ffff 00007ed9 800c ffff 00007ed9',
  );
}

/** Two servers per family: a dual-stack segment is one server section per family. */
const SERVERS = [
  { name: 'sa', address: addr('198.19.1.2'), port: 1080, local: { address: addr('198.19.1.1'), length: 24 } },
  { name: 'sa6', address: addr('2001:db8:19:1::2'), port: 1081, local: { address: addr('2001:db8:19:1::1'), length: 64 } },
];

function source(): ExportSource {
  return {
    started: 1_700_000_000_000,
    config: { appliance: { socksPort: 1080 }, servers: SERVERS },
    alps: { names: ['http'] },
    dispatcher: { table: new ConnectionTable(SERVERS.length, 10, 10) },
    now: () => 100,
  };
}

/** The four pairs of families, and a connection of each. */
const CASES = [
  { name: 'IPv4 client, IPv4 server', client: '198.18.0.2', vip: '198.18.0.100', server: 0, template: 256 },
  { name: 'IPv6 client, IPv4 server', client: '2001:db8:18::2', vip: '2001:db8:18::100', server: 0, template: 257 },
  { name: 'IPv4 client, IPv6 server', client: '198.18.0.3', vip: '198.18.0.100', server: 1, template: 258 },
  { name: 'IPv6 client, IPv6 server', client: '2001:db8:18:0:abcd:0:0:7', vip: '2001:db8:18::100', server: 1, template: 259 },
];

function connection(k: number): Connection {
  const x = CASES[k];
  const c = new Connection(addr(x.client), 41000 + k, addr(x.vip), 90);
  Object.assign(c, {
    server: x.server, allocPort: 50000 + k, alp: 0, destination: `[2001:db8:80::${k}]:8080`, bytesIn: 100 + k, packetsIn: 3, bytesOut: 7000 + k,
    packetsOut: 6, lastSeen: 91, flagsIn: 0x1b, flagsOut: 0x1a, minLength: 60, maxLength: 1280, endReason: EndReason.Fin,
  });
  return c;
}

describe('export: IPFIX records of IPv4 and IPv6 legs (one Template per pair of families)', function () {
  const made: IpfixExporter[] = [];
  const collectors: Collector[] = [];
  afterEach(async function () {
    for (const e of made.splice(0)) await new Promise<void>((r) => e.stop(r));
    for (const c of collectors.splice(0)) c.socket.close();
  });

  async function started() {
    const col = new Collector();
    collectors.push(col);
    const port = await col.listen();
    const e = new IpfixExporter({ address: addr(LOOPBACK), port, interim: 60, templateRefresh: 60, observationDomain: 9 }, source(), () => undefined);
    made.push(e);
    await e.start();
    return { e, col };
  }

  it('announces the four Templates in one Template Set, byte for byte, 256 the all-IPv4 one as before', async function () {
    const { e, col } = await started();
    e.sendTemplate(); // the refresh: the same set again
    await col.next(2);
    for (const m of col.raw.slice(0, 2)) {
      const records = [0, 1, 2, 3].map((k) => templateRecord(256 + k, (k & 1) !== 0, (k & 2) !== 0)).join('');
      const set = hex('0002', (4 + records.length / 2).toString(16).padStart(4, '0')) + records;
      expect(m.subarray(16).toString('hex')).to.equal(set);
      expect(m.length, 'one message, unfragmented').to.be.at.most(1400);
    }
    expect(col.messages[0].templates).to.deep.equal([256, 257, 258, 259]);
    expect(e.status()).to.include({ templates: 2 });
  });

  it('sends each connection with the Template of its families, read back field by field', async function () {
    const { e, col } = await started();
    for (let k = 0; k < CASES.length; k++) e.ended(connection(k));
    e.ended(connection(0)); // back to the first family: a Data Set of its own again
    e.flush();
    const [, m] = await col.next(2);
    expect(m.unknownSets).to.equal(0);
    expect(m.recordTemplates).to.deep.equal([256, 257, 258, 259, 256]);
    // Five Data Sets: a record of other families closes the set and opens one of its Template.
    const sets: number[] = [];
    for (let at = 16; at < col.raw[1].length; at += col.raw[1].readUInt16BE(at + 2)) sets.push(col.raw[1].readUInt16BE(at));
    expect(sets).to.deep.equal([256, 257, 258, 259, 256]);
    const ctx: RecordContext = { started: 0, socksPort: 1080, servers: SERVERS, alpNames: ['http'] };
    for (let k = 0; k < CASES.length; k++) {
      const x = CASES[k];
      const r = m.records[k];
      const client6 = x.client.includes(':');
      const server6 = x.server === 1;
      const s = SERVERS[x.server];
      const clientLeg = client6 ? [ipv6(r.get('0/27')), ipv6(r.get('0/28'))] : [ipv4(r.get('0/8')), ipv4(r.get('0/12'))];
      const serverLeg = server6 ? [ipv6(r.get('0/281')), ipv6(r.get('0/282'))] : [ipv4(r.get('0/225')), ipv4(r.get('0/226'))];
      expect(clientLeg, x.name).to.deep.equal([x.client === '2001:db8:18:0:abcd:0:0:7' ? '2001:db8:18:0:abcd::7' : x.client, x.vip]);
      expect(serverLeg, x.name).to.deep.equal([server6 ? '2001:db8:19:1::1' : '198.19.1.1', server6 ? '2001:db8:19:1::2' : '198.19.1.2']);
      // No element of the other family: a collector takes each leg's family from its Template.
      for (const other of client6 ? ['0/8', '0/12'] : ['0/27', '0/28']) expect(r.has(other), `${x.name}: ${other}`).to.equal(false);
      for (const other of server6 ? ['0/225', '0/226'] : ['0/281', '0/282']) expect(r.has(other), `${x.name}: ${other}`).to.equal(false);
      expect([uint(r.get('0/7')), uint(r.get('0/11')), uint(r.get('0/4'))]).to.deep.equal([41000 + k, 1080, 6]);
      expect([uint(r.get('0/227')), uint(r.get('0/228'))]).to.deep.equal([50000 + k, s.port]);
      expect([uint(r.get('0/1')), uint(r.get('0/2')), uint(r.get('29305/1')), uint(r.get('29305/2'))]).to.deep.equal([100 + k, 3, 7000 + k, 6]);
      expect([uint(r.get('0/152')), uint(r.get('0/153'))]).to.deep.equal([1_700_000_090_000, 1_700_000_091_000]);
      expect([uint(r.get('0/6')), uint(r.get('29305/6')), uint(r.get('0/136'))]).to.deep.equal([0x1b, 0x1a, 3]);
      expect([uint(r.get('32473/13')), uint(r.get('32473/14')), uint(r.get('32473/8'))]).to.deep.equal([60, 1280, EndReason.Fin]);
      expect([text(r.get('32473/9')), text(r.get('32473/10')), text(r.get('32473/11')), text(r.get('32473/12'))]).to.deep.equal(['http', s.name, `[2001:db8:80::${k}]:8080`, '']);
      const c = connection(k);
      expect(flowTemplateBits(c, ctx) + 256).to.equal(x.template);
      expect(flowRecordLength(c, ctx, flowTemplateBits(c, ctx)), 'the room reserved is what was written').to.equal(recordLength(r));
    }
  });

  it('gives a connection that never had a server a zero server leg of its client\'s family', async function () {
    const { e, col } = await started();
    for (const k of [0, 1]) e.ended(Object.assign(connection(k), { server: -1, endReason: EndReason.Refused }));
    e.flush();
    const [, m] = await col.next(2);
    expect(m.recordTemplates).to.deep.equal([256, 259]);
    expect([ipv4(m.records[0].get('0/225')), ipv4(m.records[0].get('0/226')), uint(m.records[0].get('0/227'))]).to.deep.equal(['0.0.0.0', '0.0.0.0', 0]);
    expect([ipv6(m.records[1].get('0/281')), ipv6(m.records[1].get('0/282')), uint(m.records[1].get('0/228'))]).to.deep.equal(['::', '::', 0]);
    expect(ipv6(m.records[1].get('0/27'))).to.equal('2001:db8:18::2');
    expect(text(m.records[1].get('32473/10')), 'no server name').to.equal('');
  });
});

/** A record's bytes from its decoded fields: fixed ones as they are, the four strings (all short here) with their 1-byte length. */
function recordLength(r: Map<string, Buffer>): number {
  let n = 0;
  for (const [k, b] of r) n += b.length + (['32473/9', '32473/10', '32473/11', '32473/12'].includes(k) ? 1 : 0);
  return n;
}
