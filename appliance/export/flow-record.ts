import type { Connection } from '../flow/connection';
import type { ServerRecord } from '../config/tables';
import { variableFieldLength, type IpfixWriter } from '../wire/ipfix';
import { ENDPOINT_MAX, FLOW_FIXED_LENGTH, NAME_MAX, UNMEASURED } from './template';

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

/** Bytes `writeFlowRecord` will write for `c`: the room a message must have for it. */
export function flowRecordLength(c: Connection, ctx: RecordContext): number {
  return FLOW_FIXED_LENGTH + nameLength(ctx.alpNames[c.alp] ?? '') + nameLength(ctx.servers[c.server]?.name ?? '') +
    endpointLength(c.destination) + endpointLength(c.diverted);
}

const measured = (v: number) => (v < 0 ? UNMEASURED : Math.min(v, UNMEASURED - 1));

/**
 * Writes `c` as one Data Record of template.ts's FLOW_TEMPLATE, field by field in its order.
 * Octets and packets are what came since `reported` (the earlier records of this connection),
 * which is then brought up to date. A connection that never had a server has zeros for the
 * server leg and an empty server name.
 */
export function writeFlowRecord(w: IpfixWriter, c: Connection, ctx: RecordContext, reported: Reported | undefined, flowEndReason: number): void {
  const s = c.server >= 0 ? ctx.servers[c.server] : undefined;
  w.u32(c.clientIp);
  w.u32(c.vip);
  w.u16(c.clientPort);
  w.u16(ctx.socksPort);
  w.u8(PROTO_TCP);
  w.u32(s ? s.local.address : 0);
  w.u32(s ? s.address : 0);
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
