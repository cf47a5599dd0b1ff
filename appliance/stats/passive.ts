import type { Connection } from '../flow/connection';

/**
 * What a passive monitor learns from the segments it forwards (the network-management patent's
 * latency per connection), at a few integer operations per segment and nothing allocated.
 *
 * Round trip per leg, as a sender without timestamps measures it (RFC 6298 2, 3): one segment
 * timed at a time each way, from when the appliance forwards new data to when the ACK that
 * covers it comes back the other way; a repeat of data in that direction spoils the sample
 * (Karn's algorithm: the ACK could be for either copy). Samples are smoothed as SRTT is:
 * SRTT <- 7/8 SRTT + 1/8 R (R alone for the first). So the client leg's figure is the time from
 * the appliance to the client and back, the server leg's from the appliance to the server and
 * back, each including the other end's delayed ACK as any sender's does.
 *
 * Each leg's first sample is its handshake, as Linux takes it (tcp_synack_rtt_meas): the
 * client's ACK of the SYN-ACK the appliance sent it, the server's SYN-ACK to the appliance's SYN
 * (Connection.handshakeUs), unless the SYN or SYN-ACK had to be sent again. Data samples alone
 * would start the server leg badly: the server's first ACK of the client's request usually
 * rides on its answer, after the destination's own delay.
 *
 * Every position here is in the server leg's sequence space, where the splice already keeps
 * how far each direction has gone (Connection.upNext, downNext).
 */

export const TIMING_UP = 1;
export const TIMING_DOWN = 2;
/** The SYN-ACK to the client is timed (before the splice; its time in timedDownAt). */
export const TIMING_SYN_ACK = 4;

/** The appliance sent the client its SYN-ACK: the first, timed; again, the sample is spoilt. */
export function synAckSent(c: Connection, us: number, again: boolean): void {
  if (again) {
    c.timing &= ~TIMING_SYN_ACK;
    return;
  }
  c.timing |= TIMING_SYN_ACK;
  c.timedDownAt = us;
}

/** The client acknowledged the SYN-ACK: the client leg's first sample. */
export function synAckAcked(c: Connection, us: number): void {
  if ((c.timing & TIMING_SYN_ACK) === 0) return;
  c.timing &= ~TIMING_SYN_ACK;
  const r = (us - c.timedDownAt) | 0;
  if (r >= 0) c.rttClientUs = r;
}

function smooth(srtt: number, sample: number): number {
  return srtt < 0 ? sample : (srtt + ((sample - srtt) >> 3)) | 0;
}

/**
 * Data from the client, from `seq` (an int32) to `end`, about to go to the server. A segment
 * that starts before where the stream stood repeats bytes already sent: a retransmission
 * (counted once per segment, also when new bytes ride with it), which spoils the sample if it
 * repeats the timed byte (Karn). New data that starts where the stream stood is timed, if
 * nothing is timed that way, until an ACK covers its first byte: not its last, since a GSO
 * super-packet of 64 KB arrives as one datagram, and its last byte is acknowledged only after
 * all of it has crossed the next link. Returns whether it goes past where the stream stood;
 * the caller moves upNext.
 */
export function fromClientData(c: Connection, seq: number, end: number, us: number): boolean {
  if (((seq - c.upNext) | 0) >= 0) {
    if ((c.timing & TIMING_UP) === 0 && seq === c.upNext) {
      c.timing |= TIMING_UP;
      c.timedUpEnd = (seq + 1) | 0;
      c.timedUpAt = us;
    }
    return ((end - c.upNext) | 0) > 0;
  }
  // Some of it went before: a retransmission, merged with new bytes or not. If it repeats the
  // timed byte, the ACK of that byte may be for either copy.
  c.retransIn++;
  if (((seq - c.timedUpEnd) | 0) < 0) c.timing &= ~TIMING_UP;
  return ((end - c.upNext) | 0) > 0;
}

/** The same for data from the server towards the client (downNext). */
export function fromServerData(c: Connection, seq: number, end: number, us: number): boolean {
  if (((seq - c.downNext) | 0) >= 0) {
    if ((c.timing & TIMING_DOWN) === 0 && seq === c.downNext) {
      c.timing |= TIMING_DOWN;
      c.timedDownEnd = (seq + 1) | 0;
      c.timedDownAt = us;
    }
    return ((end - c.downNext) | 0) > 0;
  }
  c.retransOut++;
  if (((seq - c.timedDownEnd) | 0) < 0) c.timing &= ~TIMING_DOWN;
  return ((end - c.downNext) | 0) > 0;
}

/** The client acknowledges server data up to `ack` (server leg's space): the client leg's sample. */
export function clientAcked(c: Connection, ack: number, us: number): void {
  if ((c.timing & TIMING_DOWN) === 0 || ((ack - c.timedDownEnd) | 0) < 0) return;
  c.timing &= ~TIMING_DOWN;
  const r = (us - c.timedDownAt) | 0;
  if (r >= 0) c.rttClientUs = smooth(c.rttClientUs, r);
}

/** The server acknowledges client data up to `ack`: the server leg's sample. */
export function serverAcked(c: Connection, ack: number, us: number): void {
  if ((c.timing & TIMING_UP) === 0 || ((ack - c.timedUpEnd) | 0) < 0) return;
  c.timing &= ~TIMING_UP;
  const r = (us - c.timedUpAt) | 0;
  if (r >= 0) c.rttServerUs = smooth(c.rttServerUs, r);
}

/** The smallest and largest datagram of the connection, either way. */
export function sized(c: Connection, len: number): void {
  if (len < c.minLength) c.minLength = len;
  if (len > c.maxLength) c.maxLength = len;
}
