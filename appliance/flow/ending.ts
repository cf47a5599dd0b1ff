import { ConnState, type Connection } from './connection';
import type { ClientLeg } from './client-leg';
import { LINGER, type FlowContext } from './context';
import type { ServerLeg } from './server-leg';
import { FIN, RST } from '../wire/tcp';
import { EndReason } from '../stats/end-reason';
import { formatEndpoint, parseEndpoint, withPort } from '../divert/endpoint';

/**
 * How connections end: step 714's FINs and RSTs, the clients that move on, the operator's
 * `move`, a server that vanishes, the appliance's stop; and the one way out of the table,
 * `end`, which keeps the first reason given and tells the observers (stats/observer.ts).
 */
export class Ending {
  constructor(private readonly cx: FlowContext, private readonly client: ClientLeg, private readonly leg: ServerLeg) {}

  /** Step 714: FIN from both sides, or a RST, closes the entry after a short linger. */
  trackClose(c: Connection, flags: number, fromClient: boolean): void {
    if ((flags & (FIN | RST)) === 0) return;
    const before = (c.finFromClient ? 1 : 0) | (c.finFromServer ? 2 : 0);
    if (flags & RST) {
      this.cx.stats.reset++;
      c.finFromClient = c.finFromServer = true;
      if (c.endReason === EndReason.None) c.endReason = fromClient ? EndReason.ClientReset : EndReason.ServerReset;
    } else if (fromClient) c.finFromClient = true;
    else c.finFromServer = true;
    if (c.finFromClient && c.finFromServer && c.state !== ConnState.Closed) {
      this.cx.stats.closed++;
      this.cx.table.setState(c, ConnState.Closed);
      c.closeAt = this.cx.now + LINGER;
      this.cx.watched.add(c);
    }
    // Issue 16: a half close, and a close's timer, go to the HA peer (once the splice was sent).
    if (c.hs === null && before !== ((c.finFromClient ? 1 : 0) | (c.finFromServer ? 2 : 0))) this.cx.sync?.changed(c);
  }

  /** Ends a connection the client has moved on from, telling a server leg still open. */
  abandon(c: Connection): void {
    this.cx.stats.abandoned++;
    if (c.state === ConnState.Spliced || c.state === ConnState.Replaying) this.leg.resetLeg(c);
    this.end(c, EndReason.Abandoned);
  }

  /**
   * `move` (the network-management patent's mid-connection diversion) for SOCKS connections,
   * after the diverted-address table changed: a connection whose server leg already asked for a
   * destination that the table now sends elsewhere cannot follow (its server holds the TCP
   * state), so both legs are reset, each exactly at the next sequence number its end expects,
   * and the client's reconnection follows the table. Connections still collecting their
   * request follow the table anyway. Returns how many were reset. O(connections): the
   * operator's path, not the data path's.
   */
  moveDiverted(): number {
    const table = this.cx.stages.diversions;
    let n = 0;
    for (const c of this.cx.table.connections()) {
      if (c.server < 0 || c.state === ConnState.Refused || c.state === ConnState.Closed) continue;
      // Without holding it: an IPv6 destination nothing holds is refused, and rightly not moved:
      // an address an entry ever named stays held (parseEndpoint), so no entry diverted it.
      const asked = parseEndpoint(c.destination, false);
      if (!asked.ok || asked.endpoint.port === undefined) continue;
      const dest = withPort(asked.endpoint, asked.endpoint.port);
      const goes = formatEndpoint(table.divert(dest) ?? dest);
      if (goes === (c.diverted !== '' ? c.diverted : formatEndpoint(dest))) continue;
      this.client.reset(c);
      this.leg.resetLeg(c);
      this.end(c, EndReason.Moved);
      n++;
    }
    this.cx.stats.movedReset += n;
    return n;
  }

  /**
   * Server `server` cannot be reached (its device vanished): handshakes under way towards it
   * fail over now, as a reset from it would make them, rather than at connect_timeout.
   */
  serverGone(server: number, why: string): void {
    for (const c of [...this.cx.watched]) {
      if (c.server === server && (c.state === ConnState.Connecting || c.state === ConnState.Replaying)) this.leg.failed(c, why);
    }
  }

  /** The appliance stops: every connection still in the table ends now, for the observers' records. */
  endAll(): void {
    for (const c of this.cx.table.connections()) this.end(c, EndReason.Shutdown);
  }

  /**
   * The connection leaves the table: the first reason given is the one kept (a RST seen, then
   * the linger's end, is a reset), and the observers hear of it while its server is bound.
   */
  end(c: Connection, why: EndReason): void {
    if (c.endReason === EndReason.None) {
      c.endReason = c.state === ConnState.Refused ? EndReason.Refused : c.state === ConnState.Closed ? EndReason.Fin : why;
    }
    this.cx.watched.delete(c);
    c.hs = null;
    if (!this.cx.table.holds(c)) return;
    for (const o of this.cx.observers) o.ended(c);
    this.cx.table.remove(c);
  }
}
