import type { Diversion6 } from '../../../appliance/forward/diversion6';
import { expect } from 'chai';
import { formatAddress, parseAddress } from '../../../appliance/addr/address';
import { parsePrefixAny } from '../../../appliance/addr/prefix';
import type { Route } from '../../../appliance/config/tables';
import type { PacketDevice } from '../../../appliance/device/device';
import { PacketPool } from '../../../appliance/device/packet-pool';
import type { Dispatcher } from '../../../appliance/flow/dispatcher';
import { Demux6 } from '../../../appliance/forward/demux6';
import { Drops } from '../../../appliance/forward/drops';
import type { ServerEgress } from '../../../appliance/forward/egress';
import type { Icmp } from '../../../appliance/forward/icmp';
import { Icmp6 } from '../../../appliance/forward/icmp6';
import type { Neighbours } from '../../../appliance/forward/neighbours';
import { OnLink6 } from '../../../appliance/forward/on-link6';
import { Reassembler6 } from '../../../appliance/forward/reassembly6';
import type { Output } from '../../../appliance/forward/output';
import { RouteTable6 } from '../../../appliance/forward/route-table6';
import { Router } from '../../../appliance/forward/routes';
import { Router6 } from '../../../appliance/forward/routes6';
import type { Segment } from '../../../appliance/forward/segments';
import { Validator6 } from '../../../appliance/forward/validate6';
import { ICMPV6_PARAMETER_PROBLEM, ICMPV6_TIME_EXCEEDED, TIME_EXCEEDED_REASSEMBLY } from '../../../appliance/wire/icmpv6';
import type { Ipv6Datagram } from '../../../appliance/wire/ip6-datagram';
import { a6, datagram6, withChecksum } from '../wire/packets6';

/** The intranet: a client and the IPv6 VIP (an IPv4 VIP beside it, listed first). */
export const CLIENT = a6('2001:db8:18::2');
export const VIP = a6('2001:db8:18::100');
/** Segment 0, alp-sa: the appliance's address, a host on its link; segment 1, alp-sf: the appliance's address and the gateway to the web. */
export const LOCAL_SA = a6('2001:db8:19:1::1');
export const HOST = a6('2001:db8:19:1::7a');
export const LOCAL_SF = a6('2001:db8:19:6::1');
export const GATEWAY = a6('2001:db8:19:6::2');
/** Beyond the gateway (2001:db8:113::/48 via it), and a longer prefix of it on alp-sa's link. */
export const WEB = a6('2001:db8:113::80');
export const NEAR = a6('2001:db8:113:80::7b');

/** An ICMPv6 message (hex, then `body`) in a datagram with the reference checksum. */
export function icmp6(src: Uint8Array, dst: Uint8Array, hex: string, body: Uint8Array = Buffer.alloc(0), hopLimit = 64): Buffer {
  const m = Buffer.concat([Buffer.from(hex.replace(/ /g, ''), 'hex'), body]);
  return datagram6(src, dst, 58, withChecksum(src, dst, 58, m, 2), hopLimit);
}

/** `b` with another hop limit (IPv6 has no header checksum to redo). */
export function hops(b: Buffer, limit: number): Buffer {
  const c = Buffer.from(b);
  c[7] = limit;
  return c;
}

export const ROUTES: [string, string, string?][] = [
  ['2001:db8:113::/48', 'alp-sf', '2001:db8:19:6::2'],
  ['2001:db8:113:80::/64', 'alp-sa'],
];

export function routes(list: [string, string, string?][]): Route[] {
  return list.map(([p, tap, gw]) => ({ prefix: parsePrefixAny(p)!, tap, gateway: gw === undefined ? undefined : parseAddress(gw) }));
}

/** What left: where to, the next hop (an address: the gateway's, or the destination's on its link), the datagram's bytes. */
export interface Sent {
  to: string;
  hop?: string;
  bytes: string;
}

export interface RigOptions {
  loose?: boolean;
  tunMtu?: number;
  routes?: [string, string, string?][];
}

/**
 * The IPv6 data path from the demux on (validate6, demux6, routes6, icmp6) over a real pool,
 * with the TUN, the link (Neighbor Discovery's sendTo6) and the dispatcher as recorders. Every
 * call checks that each slot went back to the pool, whatever became of the datagram.
 */
export function rig6(o: RigOptions = {}) {
  const tunMtu = o.tunMtu ?? 1500;
  const pool = new PacketPool(64, Math.max(tunMtu, 1500), 2);
  const logs: string[] = [];
  const drops = new Drops(pool, (m) => logs.push(m));
  const seg = (tap: string, local: string): Segment => {
    const prefix6 = parsePrefixAny(local)!;
    return {
      tap, device: {} as PacketDevice, local: -1, prefix: undefined, local6: prefix6.address, prefix6,
      mac: Uint8Array.of(2, 0x53, 0x41, 0, 0, tap.length), servers: new Map(), hosts: new Map(), also: [], alsoMacs: [], also6: [], also6Macs: [],
    };
  };
  const segments = [seg('alp-sa', '2001:db8:19:1::1/64'), seg('alp-sf', '2001:db8:19:6::1/64')];
  const out: Sent[] = [];
  const bytes = (slot: number, len: number) => Buffer.from(pool.buf.subarray(pool.ipOffset(slot), pool.ipOffset(slot) + len)).toString('hex');
  // Neighbor Discovery as a recorder, under the on-link numbering the forwarder puts before it.
  const forgotten: string[] = [];
  const link = new OnLink6(pool, {
    sendTo6: (s, slot, len, hop) => {
      expect(hop, 'an address number for Neighbor Discovery').to.be.at.least(0);
      out.push({ to: `segment ${s}`, hop: formatAddress(hop), bytes: bytes(slot, len) });
      pool.give(slot);
    },
    forget: (a) => forgotten.push(formatAddress(a)),
  });
  const output = { toIntranet: (slot: number, len: number) => { out.push({ to: 'intranet', bytes: bytes(slot, len) }); pool.give(slot); } } as unknown as Output;
  const table = new RouteTable6(segments);
  table.set(routes(o.routes ?? ROUTES));
  const icmp6 = new Icmp6(pool, segments, table, link, output, drops, (m) => logs.push(m));
  const vips = [0xc6120064, parseAddress('2001:db8:18::100')!];
  icmp6.setVips(vips);
  const router = new Router(segments, {} as Neighbours, {} as Icmp, output, drops);
  router.vips = vips;
  const router6 = new Router6(pool, segments, table, router, link, icmp6, output, drops, tunMtu, 1500);
  router6.loose = o.loose ?? false;
  const reassembler = new Reassembler6(pool, 1 << 20);
  reassembler.lost = drops;
  const checks = new Validator6(pool, reassembler, drops);
  checks.problem = (slot, code, pointer) => icmp6.aboutOwn(slot, ICMPV6_PARAMETER_PROBLEM, code, pointer);
  reassembler.timeExceeded = (slot) => icmp6.aboutOwn(slot, ICMPV6_TIME_EXCEEDED, TIME_EXCEEDED_REASSEMBLY, 0);
  // Neighbor Discovery's part of the demux (ndp.ts): it takes types 133 to 137.
  const nd: string[] = [];
  const neighbours = {
    receive6: (s: number, slot: number, ip: Ipv6Datagram) => {
      const type = ip.buf[ip.upperOffset];
      if (type < 133 || type > 137) return false;
      nd.push(`segment ${s} type ${type}`);
      pool.give(slot);
      return true;
    },
  } as unknown as Neighbours;
  const demux = new Demux6(pool, segments, checks, router, router6, icmp6, { stats: [] } as unknown as ServerEgress, drops, neighbours,
    { fromIntranet: () => false, fromSegment: () => false } as unknown as Diversion6);
  demux.dispatcher = {
    isSocks: (port: number) => port === 1080,
    fromClient: (slot: number) => { out.push({ to: 'dispatcher', bytes: '' }); pool.give(slot); },
  } as unknown as Dispatcher;
  const free = pool.available;
  /** `b` in a slot (a big one past a small one's room), `prep` to set its metadata, then `into`. */
  const run = (b: Buffer, into: (slot: number) => void, prep?: (slot: number) => void): Sent[] => {
    const slot = b.length > pool.smallMaxIp ? pool.takeBig() : pool.take();
    pool.buf.set(b, pool.ipOffset(slot));
    prep?.(slot);
    into(slot);
    expect(pool.available + reassembler.pending, 'every slot back in the pool, or holding a datagram in reassembly').to.equal(free);
    return out.splice(0);
  };
  return {
    pool, drops, logs, icmp6, table, nd, forgotten,
    /** Reassembly's clock: what times out by `now` is answered (Time Exceeded, code 1). */
    expire: (now: number) => {
      reassembler.expire(now);
      expect(pool.available, 'every slot back in the pool').to.equal(free);
      return out.splice(0);
    },
    fromTun: (b: Buffer, prep?: (slot: number) => void) => run(b, (slot) => demux.fromIntranet(slot, b.length), prep),
    fromTap: (segIndex: number, b: Buffer) => run(b, (slot) => demux.fromSegment(segIndex, slot, b.length)),
    /** error6 called directly (reassembly's way in) about `b`, from `from`. */
    error6: (b: Buffer, type: number, code: number, param: number, from: number) => run(b, (slot) => {
      icmp6.error6(slot, type, code, param, from);
      pool.give(slot);
    }),
  };
}
