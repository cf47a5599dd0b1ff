import type { Connection } from './connection';
import type { FlowContext } from './context';
import { ATYP_IPV4, ATYP_IPV6, ATYP_NAME, describeDestination, parseSocks, SocksParse } from './socks';
import { formatEndpoint, type Endpoint } from '../divert/endpoint';
import { ADDRESSES6 } from '../addr/interner';
import { writeAddress } from '../addr/address';
import { ServerDiversion } from '../stages/server-diversion';

/**
 * The diverted-address table on the server leg, at each attempt (a failover asks again): the
 * destination the leg's request names (figure 3 for a SOCKS connection), and the server that
 * carries it (a server diversion). Per new connection, never per packet.
 */
export class LegDiversion {
  /** A diverted destination as a SOCKS5 handshake, and its parse: what `compose` then reads. */
  readonly bytes = Buffer.alloc(3 + 5 + 255 + 2);
  private readonly divertedParse = new SocksParse();
  /** The servers' server diversions; addresses and ports never change on reload, so one for the process. */
  private readonly servers: ServerDiversion;

  constructor(private readonly cx: FlowContext, private readonly log: (message: string) => void) {
    this.servers = new ServerDiversion(cx.stages.servers);
  }

  /**
   * Server ALP Selection's choice after the diverted-address table's server diversions
   * (stages/server-diversion.ts): the server an entry diverts `chosen` to when it may take the
   * connection, else `chosen` (counted; logged once per source and table version).
   */
  server(c: Connection, chosen: number, need: number): number {
    const cx = this.cx;
    const s = this.servers.divertedChoice(chosen, cx.stages.diversions, cx.stages.selection, c.alp, need, cx.health, c.hs!.tried);
    if (s !== chosen) cx.stats.serverDiverted++;
    const to = this.servers.refused;
    if (to < 0) return s;
    cx.stats.serverDivertSkipped++;
    if (this.servers.firstRefusal(chosen)) {
      const st = cx.stages;
      this.log(`divert: server ${st.servers[chosen].name} is diverted to ${st.servers[to].name}, which cannot take a connection of ALP ${st.alps.names[c.alp]} now (unusable, not listing it, no dialect for it, or failed it); it stays on ${st.servers[chosen].name} (counted as serverDivertSkipped; logged once until the table changes)`);
    }
    return chosen;
  }

  /**
   * The network-management patent's figure 3 for a SOCKS connection: when the destination the
   * client's CONNECT names is in the diverted-address table, the request the server leg sends
   * names the diverted destination instead (written here as a SOCKS5 handshake and parsed, so
   * that `compose` puts it in whatever dialect the server speaks). The client's view does not
   * change: its reply comes from the server as ever, and the splice's upShift absorbs the
   * request's new length. The ALP stays that of the port the client asked for (its intent,
   * classified before this), whatever port the diversion names. An IPv6 destination (ATYP 4)
   * is looked up where it lies in the request (not interned: no entry names an address nothing
   * holds); a diversion across families makes the leg's request the other ATYP, and so may
   * leave SOCKS5 the only dialect that carries it (dialect.ts carriers).
   */
  destination(c: Connection, p: SocksParse): SocksParse {
    const table = this.cx.stages.diversions;
    c.diverted = ''; // each attempt (a failover too) asks the table in force
    if (table.size === 0) return p;
    const h = c.hs!;
    let to: Endpoint | undefined;
    if (p.atyp === ATYP_IPV4) to = table.lookupAddress(p.ipv4, p.port);
    else if (p.atyp === ATYP_IPV6) to = table.lookupAddress(ADDRESSES6.lookup(h.collected!, p.hostOffset), p.port);
    else if (p.atyp === ATYP_NAME) to = table.lookupName(describeDestination(h.collected!, 0, p), p.port);
    if (to === undefined) return p;
    const b = this.bytes;
    let n = 0;
    b[n++] = 5;
    b[n++] = 1;
    b[n++] = 0;
    b[n++] = 5;
    b[n++] = 1; // CONNECT
    b[n++] = 0;
    if (to.kind === 'ipv4') {
      b[n++] = ATYP_IPV4;
      b.writeUInt32BE(to.address, n);
      n += 4;
    } else if (to.kind === 'ipv6') {
      b[n++] = ATYP_IPV6;
      writeAddress(to.address, b, n);
      n += 16;
    } else {
      b[n++] = ATYP_NAME;
      const len = b.write(to.name, n + 1, 'latin1'); // RFC 1123 names: ASCII
      b[n] = len;
      n += 1 + len;
    }
    const port = to.port ?? p.port;
    b.writeUInt16BE(port, n);
    n += 2;
    c.diverted = formatEndpoint({ ...to, port });
    this.cx.stats.diverted++;
    return parseSocks(b, 0, n, this.divertedParse);
  }
}
