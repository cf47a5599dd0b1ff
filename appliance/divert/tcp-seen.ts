import { readU32 } from '../wire/ipv4';
import { FIN, RST, SYN } from '../wire/tcp';
import { FLOW_CLOSING, FLOW_FIN_CLIENT, FLOW_FIN_SERVER, FLOW_REPLIED, type CurrentConnections } from './current';

/**
 * A TCP segment of row `r`, its header at b[t] and `tcpLength` bytes long (either family): its
 * FIN or RST closes the row (after the linger), and the next sequence number of its sender is
 * kept, so that a move can reset both ends exactly (RFC 5961 3.2).
 */
export function tcpSeen(f: CurrentConnections, r: number, b: Uint8Array, t: number, tcpLength: number, fromClient: boolean): void {
  const flags = b[t + 13];
  const end = (readU32(b, t + 4) + tcpLength - (b[t + 12] >> 4) * 4 + (flags & SYN ? 1 : 0) + (flags & FIN ? 1 : 0)) >>> 0;
  const next = fromClient ? f.clientNext : f.serverNext;
  const first = fromClient ? f.packetsOut[r] === 0 : (f.flags[r] & FLOW_REPLIED) === 0;
  if (first || ((end - next[r]) | 0) > 0) next[r] = end;
  if (flags & RST) f.flags[r] |= FLOW_CLOSING;
  else if (flags & FIN) f.flags[r] |= fromClient ? FLOW_FIN_CLIENT : FLOW_FIN_SERVER;
  if ((f.flags[r] & (FLOW_FIN_CLIENT | FLOW_FIN_SERVER)) === (FLOW_FIN_CLIENT | FLOW_FIN_SERVER)) f.flags[r] |= FLOW_CLOSING;
}
