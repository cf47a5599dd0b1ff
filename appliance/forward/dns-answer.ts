import type { PacketPool } from '../device/packet-pool';
import type { EnhancedNameServer } from '../divert/ens';
import { finish, pseudoHeaderSum, pseudoHeaderSum6, sumWords } from '../wire/checksum';
import type { Ipv6Datagram } from '../wire/ip6-datagram';
import { IPV4_MIN_HEADER, PROTO_UDP, type Ipv4View } from '../wire/ipv4';
import { IPV6_HEADER } from '../wire/ipv6';
import type { Output } from './output';

const UDP_HEADER = 8;
/** The answer's TTL: the appliance is its source, as a host is of its own datagrams (RFC 1122 3.2.1.7). */
const ANSWER_TTL = 64;

/**
 * The enhanced name server's answer (figure 5), made from the query's own slot: the DNS message
 * rewritten in place by `ens`, then the datagram turned round, from the name server the client
 * asked to the client, so that the answer is the one it expects. False when `ens` passes the
 * query on (the caller routes it unchanged). A query with IP options is passed on: the answer's
 * header would be another size.
 */
export function answerInPlace(pool: PacketPool, ens: EnhancedNameServer, slot: number, ip: Ipv4View, output: Output): boolean {
  if (ip.headerLength !== IPV4_MIN_HEADER) return false;
  const b = pool.buf;
  const u = ip.payloadOffset;
  const udpLength = (b[u + 4] << 8) | b[u + 5];
  if (udpLength < UDP_HEADER || udpLength > ip.payloadLength) return false;
  const room = pool.ipRoom(slot) - IPV4_MIN_HEADER - UDP_HEADER;
  const n = ens.answer(b, u + UDP_HEADER, udpLength - UDP_HEADER, room);
  if (n < 0) return false;
  const client = ip.src;
  const server = ip.dst;
  const length = UDP_HEADER + n;
  turnUdp(b, u, length, pseudoHeaderSum(server, client, PROTO_UDP, length));
  ip.src = server;
  ip.dst = client;
  ip.totalLength = IPV4_MIN_HEADER + length;
  ip.ttl = ANSWER_TTL;
  ip.fillChecksum();
  // Computed in full here: nothing is left for the kernel to finish.
  pool.vnetFlags[slot] = 0;
  pool.gsoType[slot] = 0;
  output.toIntranet(slot, IPV4_MIN_HEADER + length);
  return true;
}

/**
 * answerInPlace for a query over IPv6: the same answer, the addresses swapped where they lie,
 * hop limit 64, the UDP checksum over RFC 8200 8.1's pseudo-header (never 0 over IPv6). A query
 * with extension headers is passed on, as one with IPv4 options is.
 */
export function answerInPlace6(pool: PacketPool, ens: EnhancedNameServer, slot: number, ip: Ipv6Datagram, output: Output): boolean {
  const u = ip.upperOffset;
  if (u !== ip.off + IPV6_HEADER) return false;
  const b = pool.buf;
  const udpLength = (b[u + 4] << 8) | b[u + 5];
  if (udpLength < UDP_HEADER || udpLength > ip.upperLength) return false;
  const room = pool.ipRoom(slot) - IPV6_HEADER - UDP_HEADER;
  const n = ens.answer(b, u + UDP_HEADER, udpLength - UDP_HEADER, room);
  if (n < 0) return false;
  const s = ip.srcOffset;
  const d = ip.dstOffset;
  for (let k = 0; k < 16; k++) {
    const x = b[s + k];
    b[s + k] = b[d + k];
    b[d + k] = x;
  }
  const src = ip.src;
  ip.src = ip.dst;
  ip.dst = src;
  const length = UDP_HEADER + n;
  turnUdp(b, u, length, pseudoHeaderSum6(b, s, b, d, PROTO_UDP, length));
  // The traffic class kept; a flow label is the sender's own per flow (RFC 6437): none.
  b[ip.off + 1] &= 0xf0;
  b[ip.off + 2] = 0;
  b[ip.off + 3] = 0;
  ip.payloadLength = length;
  ip.hopLimit = ANSWER_TTL;
  pool.vnetFlags[slot] = 0;
  pool.gsoType[slot] = 0;
  output.toIntranet(slot, IPV6_HEADER + length);
  return true;
}

/** The UDP header at `u` turned round (ports swapped: from the server's port 53 to the client's), of `length` bytes, its checksum over `pseudo`. */
function turnUdp(b: Uint8Array, u: number, length: number, pseudo: number): void {
  const clientPort0 = b[u];
  const clientPort1 = b[u + 1];
  b[u] = b[u + 2];
  b[u + 1] = b[u + 3];
  b[u + 2] = clientPort0;
  b[u + 3] = clientPort1;
  b[u + 4] = length >> 8;
  b[u + 5] = length;
  b[u + 6] = 0;
  b[u + 7] = 0;
  let c = finish(sumWords(b, u, length, pseudo));
  if (c === 0) c = 0xffff; // RFC 768: a computed 0 is sent as all ones
  b[u + 6] = c >> 8;
  b[u + 7] = c;
}
