import { expect } from 'chai';
import { buildStages } from '../../../appliance/appliance';
import type { Config, ServerRecord } from '../../../appliance/config/tables';
import { PacketPool } from '../../../appliance/device/packet-pool';
import { Dispatcher, type Health, type Sink } from '../../../appliance/flow/dispatcher';
import { AlpRegistry } from '../../../appliance/stages/alp-registry';
import { Ipv4View, IPV4_MIN_HEADER } from '../../../appliance/wire/ipv4';
import { ACK, FIN, parseTcp, PSH, RST, SYN, TcpOptions, TcpView } from '../../../appliance/wire/tcp';
import { ip, segment, tcpRepr } from '../wire/packets';
import { parseAddress } from '../../../appliance/addr/address';

const SA: ServerRecord = {
  name: 'sa', address: ip('198.19.1.2'), port: 1080, tap: 'alp-sa', local: { address: ip('198.19.1.1'), length: 24 },
  capacity: 15, alps: { all: true }, isDefault: true, versions: ['4', '5'], queueLimit: 64,
  check: { target: { kind: 'ipv4', address: ip('203.0.113.80'), port: 80 }, http: '/hello.txt', status: 200, interval: 2, timeout: 2, rise: 2, fall: 2 },
};

/** The probes the dispatcher sends to sa, decoded; and the server's side of them. */
function setup(server: ServerRecord = SA) {
  const pool = new PacketPool(64, 1500);
  const sent: { flags: number; seq: number; ack: number; port: number; data: string }[] = [];
  const downs: string[] = [];
  const sink: Sink & Health = {
    pool,
    toIntranet: (slot) => pool.give(slot),
    toServer: (_s, slot, len) => {
      const b = Buffer.from(pool.buf.subarray(pool.ipOffset(slot), pool.ipOffset(slot) + len));
      const t = parseTcp(new TcpView().wrap(b, IPV4_MIN_HEADER, len - IPV4_MIN_HEADER), new TcpOptions());
      sent.push({ flags: t.flags, seq: t.seq, ack: t.ack, port: t.srcPort, data: b.subarray(IPV4_MIN_HEADER + 20 + (t.mss >= 0 ? 4 : 0)).toString('latin1') });
      pool.give(slot);
    },
    usable: () => true, failed: () => undefined, succeeded: () => undefined, progressed: () => undefined,
    checkDown: (_s, down) => downs.push(down ? 'down' : 'up'), checkPassed: () => undefined,
  };
  const cfg = { appliance: { socksPort: 1080, idleTimeout: 30, halfOpenTimeout: 10, maxHalfOpen: 100, connectTimeout: 5, maxConnections: 100, controlSocket: '/x', rpFilter: 'strict' },
    alps: { records: [], fallback: { name: 'default', ports: [], priority: 4, discardEligible: true } }, servers: [server], capacityForPriority: [{ priority: 0, capacity: 0 }],
    intranet: { tun: 'alp0', vips: [ip('198.18.0.100')], mtu: 1500 }, routes: [], diversion: { maxFlows: 16, udpTimeout: 30, tcpTimeout: 30, unrepliedTimeout: 10, dnsTtl: 30 }, dir: '/', loadedAt: new Date(0) } as unknown as Config;
  const logs: string[] = [];
  const d = new Dispatcher(sink, sink, buildStages(cfg, new AlpRegistry()), [server], 1460, (l) => logs.push(l));
  const views = { ip: new Ipv4View(), tcp: new TcpView(), o: new TcpOptions() };
  /** A segment from sa to the probe's port. */
  const reply = (flags: number, seq: number, ack: number, data = '') => {
    const port = sent[sent.length - 1].port;
    const b = segment(SA.address, SA.local.address, tcpRepr({ srcPort: 1080, dstPort: port, seq, ack, flags: flags | (data ? PSH : 0), window: 1000 }), Buffer.from(data, 'latin1'));
    const slot = pool.take();
    pool.buf.set(b, pool.ipOffset(slot));
    const v = views.ip.wrap(pool.buf, pool.ipOffset(slot), b.length);
    const t = views.tcp.wrap(pool.buf, v.payloadOffset, v.payloadLength);
    t.readOptions(views.o);
    d.fromServer(0, slot, v, t, views.o, b.length);
  };
  return { d, sent, reply, downs, logs };
}

describe('health/checker: a probe through a SOCKS server', function () {
  it('SYN, the SOCKS5 greeting, the CONNECT, the HTTP request, the status line, then a RST at the exact next byte', function () {
    const t = setup();
    t.d.tick(1);
    const syn = t.sent[0];
    expect(syn.flags).to.equal(SYN);
    const isn = syn.seq;
    t.reply(SYN | ACK, 5000, isn + 1);
    expect(t.sent[1]).to.include({ flags: ACK | PSH, seq: isn + 1, ack: 5001, data: '\x05\x01\x00' });
    t.reply(ACK, 5001, isn + 4, '\x05\x00');
    expect(t.sent[3]).to.include({ seq: isn + 4, data: '\x05\x01\x00\x01\xcb\x00\x71\x50\x00\x50' });
    t.reply(ACK, 5003, isn + 14, '\x05\x00\x00\x01\xcb\x00\x71\x50\x1f\x90');
    expect(t.sent[5].data).to.match(/^GET \/hello.txt HTTP\/1.0\r\nHost: 203.0.113.80:80\r\n/);
    const get = t.sent[5];
    t.reply(ACK, 5013, get.seq + get.data.length, 'HTTP/1.1 200 OK\r\n\r\nhello');
    const rst = t.sent[t.sent.length - 1];
    expect(rst).to.include({ flags: RST | ACK, seq: get.seq + get.data.length, ack: 5013 + 'HTTP/1.1 200 OK\r\n\r\nhello'.length });
    expect(t.d.checker.status[0]).to.include({ state: 'up', last: 'ok', passes: 1 });
  });

  it('fall failures in a row take the server down (a SOCKS failure reply, then silence); rise passes bring it back', function () {
    const t = setup();
    let now = 1;
    const probe = (answer: 'refuse' | 'silent' | 'pass') => {
      t.sent.length = 0;
      t.d.tick(now);
      const isn = t.sent[0].seq;
      if (answer === 'silent') {
        t.d.tick(now + 2.1);
      } else {
        t.reply(SYN | ACK, 1, isn + 1);
        t.reply(ACK, 2, isn + 4, '\x05\x00');
        if (answer === 'refuse') t.reply(ACK | FIN, 4, isn + 14, '\x05\x04\x00\x01\x00\x00\x00\x00\x00\x00');
        else {
          t.reply(ACK, 4, isn + 14, '\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00');
          const get = t.sent[t.sent.length - 1];
          t.reply(ACK, 14, get.seq + get.data.length, 'HTTP/1.0 200 OK\r\n');
        }
      }
      now += 3;
    };
    probe('refuse');
    expect(t.d.checker.status[0].last).to.match(/SOCKS5 reply 4: the server cannot reach 203.0.113.80:80/);
    expect(t.downs).to.deep.equal([]);
    probe('silent');
    expect(t.d.checker.status[0].last).to.match(/no answer within 2 s during the TCP handshake/);
    expect(t.downs).to.deep.equal(['down']);
    probe('pass');
    expect(t.downs).to.deep.equal(['down']);
    probe('pass');
    expect(t.downs).to.deep.equal(['down', 'up']);
    expect(t.logs.join('\n')).to.match(/server sa fails its check 2 time\(s\) in a row/).and.to.match(/server sa passes its check again; up/);
  });

  it('a SOCKS4-only server is checked in SOCKS4; an HTTP status other than the one asked for fails', function () {
    const t = setup({ ...SA, versions: ['4'] });
    t.d.tick(1);
    const isn = t.sent[0].seq;
    t.reply(SYN | ACK, 1, isn + 1);
    expect(t.sent[1].data).to.equal('\x04\x01\x00\x50\xcb\x00\x71\x50\x00');
    t.reply(ACK, 2, isn + 10, '\x00\x5a\x00\x00\x00\x00\x00\x00');
    const get = t.sent[t.sent.length - 1];
    t.reply(ACK, 10, get.seq + get.data.length, 'HTTP/1.1 503 Service Unavailable\r\n');
    expect(t.d.checker.status[0].last).to.equal('HTTP 503, not 200');
  });

  it('an IPv6 target: a SOCKS5 CONNECT with ATYP 4, and the Host header in brackets', function () {
    const t = setup({ ...SA, check: { ...SA.check!, target: { kind: 'ipv6', address: parseAddress('2001:db8:113::80')!, port: 80 } } });
    t.d.tick(1);
    const isn = t.sent[0].seq;
    t.reply(SYN | ACK, 5000, isn + 1);
    t.reply(ACK, 5001, isn + 4, '\x05\x00');
    expect(Buffer.from(t.sent[3].data, 'latin1').toString('hex')).to.equal('0501000420010db80113000000000000000000800050');
    t.reply(ACK, 5003, isn + 26, '\x05\x00\x00\x01\xcb\x00\x71\x50\x1f\x90');
    expect(t.sent[5].data).to.match(/^GET \/hello.txt HTTP\/1.0\r\nHost: \[2001:db8:113::80\]:80\r\n/);
  });
});
