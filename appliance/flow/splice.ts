import type { IpDatagram } from '../wire/ip';
import { addressSum, isV6 } from '../addr/address';
import { ACK, type TcpOptions, type TcpView } from '../wire/tcp';
import type { Connection } from './connection';
import { clientAcked, fromClientData, fromServerData, serverAcked } from '../stats/passive';

/**
 * The splice: once both legs are joined, every segment is rewritten in place, with the
 * checksums updated incrementally (RFC 1624) and nothing copied.
 *
 *   client -> server  (client, cport) -> (vip, socks)  becomes  (local, alloc) -> (server, sport)
 *                     seq + upShift, ack and SACK edges - delta, window rescaled when the legs'
 *                     scales differ
 *   server -> client  (server, sport) -> (local, alloc) becomes (vip, socks) -> (client, cport)
 *                     seq + delta, ack and SACK edges - upShift, window rescaled
 *
 * delta = (the appliance's next sequence number towards the client) - (the server's next)
 * once the server's reply is in: what the appliance answered the client in the server's stead
 * (the reply translated into the client's dialect) and what the server sent (its answers,
 * its reply) line up. upShift = what the server leg sent before the client's later bytes
 * less the client's own handshake: 0 when the leg speaks the client's dialect as it came,
 * since the server leg starts at the client's ISN.
 * Timestamps are never negotiated on either leg; one that appears anyway is NOPed out.
 * Both directions keep the highest sequence number sent on in the server leg's space (upNext,
 * downNext), so that the appliance can reset both legs exactly when it must end a connection,
 * and, on the way, time one segment each way and count repeats (stats/passive.ts).
 */

/** Rewritten window field: scaled to bytes by one leg's factor and back by the other's. */
export function rescale(window: number, shift: number): number {
  if (shift === 0) return window;
  const w = shift > 0 ? window * (1 << shift) : window >>> -shift;
  return w > 0xffff ? 0xffff : w;
}

/**
 * The addresses, and the TCP checksum's pseudo-header with them. Across families (the legs'
 * differ) only the checksum changes here: family.ts writes the new header.
 */
function rewriteTcpAddresses(ip: IpDatagram, tcp: TcpView, src: number, dst: number): void {
  const cross = ip.v6 !== isV6(dst);
  if (ip.v6 || cross) {
    // RFC 8200 8.1's pseudo-header holds the same length and protocol as IPv4's: only the
    // addresses' words differ, in the checksum as one sum.
    tcp.pseudoSumChanged(ip.addressSum(), addressSum(src) + addressSum(dst));
    if (cross) return;
  } else {
    tcp.pseudoAddressChanged(ip.src, src);
    tcp.pseudoAddressChanged(ip.dst, dst);
  }
  ip.rewriteSrc(src);
  ip.rewriteDst(dst);
}

/** `us`: the time on FlowContext's microsecond clock, for the round trips (stats/passive.ts). */
export function rewriteToServer(ip: IpDatagram, tcp: TcpView, o: TcpOptions, c: Connection, local: number, serverAddress: number, serverPort: number, us: number): void {
  rewriteTcpAddresses(ip, tcp, local, serverAddress);
  tcp.rewriteSrcPort(c.allocPort);
  tcp.rewriteDstPort(serverPort);
  if (c.upShift !== 0) tcp.rewriteSeq((tcp.seq + c.upShift) >>> 0);
  // Only a segment that takes sequence space moves it: a pure ACK's seq says nothing new.
  const used = tcp.seqLength;
  if (used > 0 && fromClientData(c, tcp.seq | 0, (tcp.seq + used) | 0, us)) c.upNext = (tcp.seq + used) | 0;
  if (tcp.flags & ACK) {
    tcp.rewriteAck((tcp.ack - c.delta) >>> 0);
    clientAcked(c, tcp.ack, us);
  }
  if (c.windowShiftToServer !== 0) tcp.rewriteWindow(rescale(tcp.window, c.windowShiftToServer));
  c.winToServer = tcp.window;
  if (o.sackBlocks > 0) tcp.shiftSack(o, -c.delta);
  if (o.timestampOffset >= 0) tcp.nopOut(o.timestampOffset, 10);
}

export function rewriteToClient(ip: IpDatagram, tcp: TcpView, o: TcpOptions, c: Connection, socksPort: number, us: number): void {
  rewriteTcpAddresses(ip, tcp, c.vip, c.clientIp);
  tcp.rewriteSrcPort(socksPort);
  tcp.rewriteDstPort(c.clientPort);
  const used = tcp.seqLength;
  if (used > 0 && fromServerData(c, tcp.seq | 0, (tcp.seq + used) | 0, us)) c.downNext = (tcp.seq + used) | 0;
  if (tcp.flags & ACK) serverAcked(c, tcp.ack, us);
  tcp.rewriteSeq((tcp.seq + c.delta) >>> 0);
  if (c.upShift !== 0) {
    if (tcp.flags & ACK) tcp.rewriteAck((tcp.ack - c.upShift) >>> 0);
    if (o.sackBlocks > 0) tcp.shiftSack(o, -c.upShift);
  }
  if (c.windowShiftToClient !== 0) tcp.rewriteWindow(rescale(tcp.window, c.windowShiftToClient));
  c.winToClient = tcp.window;
  if (o.timestampOffset >= 0) tcp.nopOut(o.timestampOffset, 10);
}
