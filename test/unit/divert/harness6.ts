import { parseAddress } from '../../../appliance/addr/address';
import { PacketPool, VNET_F_NEEDS_CSUM } from '../../../appliance/device/packet-pool';
import { DivertedAddresses } from '../../../appliance/divert/table';
import { Diversion } from '../../../appliance/forward/diversion';
import { Diversion6, type Routes6 } from '../../../appliance/forward/diversion6';
import { Drops } from '../../../appliance/forward/drops';
import type { Icmp } from '../../../appliance/forward/icmp';
import type { Neighbours } from '../../../appliance/forward/neighbours';
import type { Output } from '../../../appliance/forward/output';
import { Router } from '../../../appliance/forward/routes';
import type { Segment } from '../../../appliance/forward/segments';
import { Ipv4View } from '../../../appliance/wire/ipv4';
import { Ipv6Datagram } from '../../../appliance/wire/ip6-datagram';
import { ip } from '../wire/packets';
import { a6 } from '../wire/packets6';

/**
 * The routed-traffic diversion with its IPv6 side, over a pool, with what it sends recorded:
 * segment 0 (alp-sa) has 198.19.1.1 and 2001:db8:19:1::1; the IPv4 route 203.0.113.0/24 and
 * the IPv6 route 2001:db8:113::/64 go through it via 198.19.1.2 and 2001:db8:19:1::2. The
 * IPv6 routes are a stand-in of RouteTable6's shape (Routes6): /64 prefixes, first match.
 */

export const CLIENT6 = a6('2001:db8:18::2');
export const ORIGINAL6 = a6('2001:db8:113::80');
export const MIRROR6 = a6('2001:db8:113::81');
export const OWN6 = a6('2001:db8:19:1::1');
export const GATEWAY6 = a6('2001:db8:19:1::2');
export const DATA = Buffer.from('one datagram a second\n');

export interface Sent {
  where: 'segment' | 'intranet' | 'error6';
  hop?: number;
  bytes: Buffer;
  /** error6: type, code, param, from. */
  error?: [number, number, number, number];
}

/** /64 routes: prefix bytes -> segment, gateway (an address number, -1 on link). */
class Routes64 implements Routes6 {
  segment = new Int32Array(0);
  gateway = new Float64Array(0);
  private prefixes: Buffer[] = [];
  set(routes: [prefix: Buffer, segment: number, gateway: number][]): void {
    this.prefixes = routes.map((r) => r[0]);
    this.segment = Int32Array.from(routes.map((r) => r[1]));
    this.gateway = Float64Array.from(routes.map((r) => r[2]));
  }
  lookup(buf: Uint8Array, at: number): number {
    return this.prefixes.findIndex((p) => Buffer.from(buf.subarray(at, at + 8)).equals(p.subarray(0, 8)));
  }
}

export function harness6(opts: { tapMtu?: number; tunMtu?: number } = {}, ...entries: string[]) {
  const pool = new PacketPool(64, 1500, 4);
  const sent: Sent[] = [];
  const logs: string[] = [];
  const drops = new Drops(pool, (m) => logs.push(m));
  const copyOut = (slot: number, len: number) => Buffer.from(pool.buf.subarray(pool.ipOffset(slot), pool.ipOffset(slot) + len));
  const out = (where: 'segment' | 'intranet') => (a: number, b: number, c?: number, d?: number) => {
    const [slot, len, hop] = where === 'segment' ? [b, c!, d] : [a, b, undefined];
    sent.push({ where, hop, bytes: copyOut(slot, len) });
    pool.give(slot);
  };
  const neighbours = { sendTo: out('segment') } as unknown as Neighbours;
  const output = { toIntranet: out('intranet') } as unknown as Output;
  const link = { sendTo6: out('segment') };
  const errors = {
    error6: (slot: number, type: number, code: number, param: number, from: number) => {
      sent.push({ where: 'error6', bytes: copyOut(slot, 40), error: [type, code, param, from] });
      return true;
    },
  };
  const icmp = { error: () => sent.push({ where: 'intranet', bytes: Buffer.from('icmp-error') }) } as unknown as Icmp;
  const segments = [{ tap: 'alp-sa', local: ip('198.19.1.1'), local6: parseAddress('2001:db8:19:1::1')!, mac: new Uint8Array(6), servers: new Map(), hosts: new Map(), also: [], alsoMacs: [], also6: [], also6Macs: [] } as unknown as Segment];
  const router = new Router(segments, neighbours, icmp, output, drops);
  router.set([{ prefix: { address: ip('203.0.113.0'), length: 24 }, tap: 'alp-sa', gateway: ip('198.19.1.2') }]);
  const routes = new Routes64();
  routes.set([[a6('2001:db8:113::'), 0, parseAddress('2001:db8:19:1::2')!]]);
  const d = new Diversion(pool, segments, router, neighbours, output, drops, { maxFlows: 8, udpTimeout: 30, tcpTimeout: 300, unrepliedTimeout: 10, dnsTtl: 30 }, (m) => logs.push(m));
  d.table = new DivertedAddresses();
  const d6 = new Diversion6(pool, segments, d, routes, errors, link, output, drops, opts.tunMtu ?? 1500, opts.tapMtu ?? 1500);
  for (const e of entries) {
    const [o, t] = e.split(' = ');
    const r = d.table.add(o, t);
    if (!r.ok) throw new Error(r.message);
  }
  const v4 = new Ipv4View();
  const v6 = new Ipv6Datagram();
  /** One datagram in, from the intranet or from segment 0, as validate6 leaves it; whether the diversion took it. */
  const feed = (b: Buffer, from: 'intranet' | 'segment', partial = false): boolean => {
    const slot = pool.take();
    pool.buf.set(b, pool.ipOffset(slot));
    pool.vnetFlags[slot] = partial ? VNET_F_NEEDS_CSUM : 0;
    let taken: boolean;
    if (b[0] >> 4 === 6) {
      v6.wrap(pool.buf, pool.ipOffset(slot), b.length);
      if (v6.check() !== 0 || v6.readHeaders(v6.headers) !== 0) throw new Error('a bad test datagram');
      v6.bind();
      taken = from === 'intranet' ? d6.fromIntranet(slot, v6) : d6.fromSegment(0, slot, v6);
    } else {
      v4.wrap(pool.buf, pool.ipOffset(slot), b.length);
      taken = from === 'intranet' ? d.fromIntranet(slot, v4) : d.fromSegment(0, slot, v4);
    }
    if (!taken) pool.give(slot);
    return taken;
  };
  return { d, d6, sent, feed, drops, logs, pool, routes };
}
