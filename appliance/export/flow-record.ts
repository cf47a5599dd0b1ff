import type { Connection } from '../flow/connection';
import type { ServerRecord } from '../config/tables';
import { variableFieldLength, type IpfixWriter } from '../wire/ipfix';
import { isV6, writeAddress } from '../addr/address';
import { CLIENT_V6, ENDPOINT_MAX, FLOW_FIXED_LENGTHS, NAME_MAX, SERVER_V6, UNMEASURED } from './template';

/** What a record reads besides the connection: the names and addresses in force, the clock's origin. */
export interface RecordContext {
  /** Date.now() when the appliance's monotonic clock (Connection.created, lastSeen) was 0. */
  started: number;
  socksPort: number;
  servers: readonly Pick<ServerRecord, 'name' | 'address' | 'port' | 'local'>[];
  /** AlpRegistry names by id. */
  alpNames: readonly string[];
}

/** The counts a connection's earlier records carried: bytes and packets in, then out. */
export type Reported = Float64Array;
export const newReported = (): Reported => new Float64Array(4);

const PROTO_TCP = 6;
/** TCP flags are ORed into a byte (the stats); tcpControlBits is 16 bits (RFC 7125). */
const FLAG_BITS = 0xff;

const nameLength = (s: string) => variableFieldLength(Math.min(Buffer.byteLength(s), NAME_MAX));
const endpointLength = (s: string) => variableFieldLength(Math.min(Buffer.byteLength(s), ENDPOINT_MAX));

/**
 * The Template bits of `c`'s record (template.ts): its legs' families. A connection that never
 * had a server has its server leg in the client's family, all zeros.
 */
export function flowTemplateBits(c: Connection, ctx: RecordContext): number {
  const client6 = isV6(c.clientIp);
  const s = c.server >= 0 ? ctx.servers[c.server] : undefined;
  return (client6 ? CLIENT_V6 : 0) | ((s ? isV6(s.address) : client6) ? SERVER_V6 : 0);
}

/** Bytes `writeFlowRecord` will write for `c` with Template bits `bits`: the room a message must have for it. */
export function flowRecordLength(c: Connection, ctx: RecordContext, bits: number): number {
  return FLOW_FIXED_LENGTHS[bits] + nameLength(ctx.alpNames[c.alp] ?? '') + nameLength(ctx.servers[c.server]?.name ?? '') +
    endpointLength(c.destination) + endpointLength(c.diverted);
}

const measured = (v: number) => (v < 0 ? UNMEASURED : Math.min(v, UNMEASURED - 1));

/**
 * Writes `c` as one Data Record of template.ts's FLOW_TEMPLATES[bits] (`flowTemplateBits`),
 * field by field in its order.
 * Octets and packets are what came since `reported` (the earlier records of this connection),
 * which is then brought up to date. A connection that never had a server has zeros for the
 * server leg and an empty server name.
 */
export function writeFlowRecord(w: IpfixWriter, c: Connection, ctx: RecordContext, bits: number, reported: Reported | undefined, flowEndReason: number): void {
  const s = c.server >= 0 ? ctx.servers[c.server] : undefined;
  address(w, c.clientIp);
  address(w, c.vip);
  w.u16(c.clientPort);
  w.u16(ctx.socksPort);
  w.u8(PROTO_TCP);
  if (s) {
    address(w, s.local.address);
    address(w, s.address);
  } else {
    zeros(w, bits & SERVER_V6 ? 32 : 8);
  }
  w.u16(s ? c.allocPort : 0);
  w.u16(s ? s.port : 0);
  if (reported) {
    w.u64(c.bytesIn - reported[0]);
    w.u64(c.packetsIn - reported[1]);
    w.u64(c.bytesOut - reported[2]);
    w.u64(c.packetsOut - reported[3]);
    reported[0] = c.bytesIn;
    reported[1] = c.packetsIn;
    reported[2] = c.bytesOut;
    reported[3] = c.packetsOut;
  } else {
    w.u64(c.bytesIn);
    w.u64(c.packetsIn);
    w.u64(c.bytesOut);
    w.u64(c.packetsOut);
  }
  w.u64(Math.round(ctx.started + c.created * 1000));
  w.u64(Math.round(ctx.started + c.lastSeen * 1000));
  w.u16(c.flagsIn & FLAG_BITS);
  w.u16(c.flagsOut & FLAG_BITS);
  w.u8(flowEndReason);
  // Both directions' range (template.ts SOCKSALP_IE); both 0 until a datagram was seen (the connection keeps 65535 and 0).
  w.u16(c.maxLength === 0 ? 0 : c.minLength);
  w.u16(c.maxLength);
  w.u8(c.priority);
  w.u32(measured(c.handshakeUs));
  w.u32(measured(c.replyUs));
  w.u32(measured(c.rttClientUs));
  w.u32(measured(c.rttServerUs));
  w.u32(c.retransIn);
  w.u32(c.retransOut);
  w.u8(c.endReason);
  w.string(ctx.alpNames[c.alp] ?? '', NAME_MAX);
  w.string(s ? s.name : '', NAME_MAX);
  w.string(c.destination, ENDPOINT_MAX);
  w.string(c.diverted, ENDPOINT_MAX);
}

/** An address element: 4 bytes for IPv4, 16 for IPv6 (the interned address's bytes, not copied out). */
function address(w: IpfixWriter, a: number): void {
  writeAddress(a, w.buf, w.at);
  w.at += isV6(a) ? 16 : 4;
}

function zeros(w: IpfixWriter, n: number): void {
  w.buf.fill(0, w.at, w.at + n);
  w.at += n;
}
