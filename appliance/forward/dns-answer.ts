import type { PacketPool } from '../device/packet-pool';
import type { EnhancedNameServer } from '../divert/ens';
import { finish, pseudoHeaderSum, sumWords } from '../wire/checksum';
import { IPV4_MIN_HEADER, PROTO_UDP, type Ipv4View } from '../wire/ipv4';
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
  // Ports swapped: from the server's port 53 to the client's.
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
  let c = finish(sumWords(b, u, length, pseudoHeaderSum(server, client, PROTO_UDP, length)));
  if (c === 0) c = 0xffff; // RFC 768: a computed 0 is sent as all ones
  b[u + 6] = c >> 8;
  b[u + 7] = c;
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
