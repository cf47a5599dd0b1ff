import { EndReason } from '../stats/end-reason';
import { V6_BASE } from '../addr/interner';
import { address, COLUMNS, FLAG_CLIENT6, FLAG_DISCARD_ELIGIBLE, FLAG_FIN_FROM_CLIENT, FLAG_FIN_FROM_SERVER, FLAG_PICKUP_CLIENT, FLAG_PICKUP_SERVER, FLAG_ADOPTED, FLAG_VIP6, stored } from './columns';
import { TEXTS } from './texts';

const C = COLUMNS;

/**
 * Where a connection is in its life. The order matters: the states before Spliced are the
 * half-open ones (`Connection.halfOpen`), which the table counts against max_half_open.
 */
export const enum ConnState {
  /** SYN-ACK sent to the client; waiting for its ACK. */
  SynReceived = 0,
  /** Collecting the SOCKS handshake; SOCKS5 greeting (and auth) answered by the appliance. */
  Collecting = 1,
  /** Server chosen; SYN sent to it. */
  Connecting = 2,
  /** Server connected; the client's handshake is being replayed to it. */
  Replaying = 3,
  /** Both legs joined: every segment is rewritten and forwarded. */
  Spliced = 4,
  /** The appliance refused the client (SOCKS failure reply and FIN sent); lingering for the close. */
  Refused = 5,
  /** Both FINs seen, or a RST: lingering briefly for retransmissions, then removed. */
  Closed = 6,
}

/** ConnState's names, as `ctl` and the dashboard show them. */
export const STATE_NAMES = ['syn-received', 'collecting', 'connecting', 'replaying', 'spliced', 'refused', 'closed'];

/** Replay phases of the server leg: only SOCKS5 has the first two; SOCKS4 starts at Request. */
export const enum Phase {
  Greeting = 0,
  Auth = 1,
  Request = 2,
}

/**
 * What only the handshake needs: the client leg the appliance answers itself, the bytes it
 * collects, the server leg's composed handshake and its replay, the server's reply while it is
 * translated. Dropped once both ends have acknowledged everything the appliance sent in the
 * other's stead, so an established connection costs only the Connection itself.
 */
export class Handshake {
  // ---- client leg (client-leg.ts)
  /** Next sequence number expected from the client. */
  clientNext = 0;
  clientWscale = -1;
  clientSackOk = false;
  clientMss = 536;
  /** The appliance's ISN towards the client, and its next sequence number there. */
  ourIsn = 0;
  ourNext = 0;
  /** Window scale the appliance announced to the client. */
  ourWscale = -1;
  /**
   * The SOCKS bytes the appliance sent the client in the server's stead (method and auth
   * answers, the translated reply), from ourIsn + 1; sent again when the client shows it
   * missed them. `ourAcked`: how many of them the client has acknowledged.
   */
  sent: Buffer | null = null;
  sentLength = 0;
  ourAcked = 0;

  /** The client's bytes from its first data byte: the SOCKS handshake and anything after it. */
  collected: Buffer | null = null;
  collectedLength = 0;
  /** SOCKS5: the method answered to the client. Then the end of the client's request. */
  method = -1;
  answered = 0;
  requestEnd = 0;

  // ---- server leg (server-leg.ts)
  /** Servers that already failed this connection (bit per server index). */
  tried = 0;
  serverNext = 0;
  serverWscale = -1;
  phase = Phase.Greeting;
  /** What the server leg sends before the client's later bytes (dialect.ts), and its phases. */
  composed: Buffer | null = null;
  greetingEnd = 0;
  authEnd = 0;
  composedEnd = 0;
  /** SOCKS5 method offered to the server; whether the credentials were the appliance's own. */
  offered = -1;
  ownCredentials = false;
  /** Bytes of the current phase's answer received from the server. */
  answer: Buffer | null = null;
  answerLength = 0;
  /** End (server-leg stream offset) of what has been replayed so far, and the highest the server acknowledged. */
  replayedTo = 0;
  serverAcked = 0;
  /** The server's reply: where it ended in its sequence space; true once translated. */
  replyEnd = 0;
  replied = false;

  deadline = 0;
  retries = 0;
  connectStarted = 0;
  /** When the SYN of this attempt went, on FlowContext's microsecond clock. */
  synAtUs = 0;
  /** When the current phase was replayed: its answer is awaited for connect_timeout. */
  phaseSent = 0;
}

/**
 * A record of the Socks ALP Connection table (patent figure 6, 612), grown into what the
 * splice needs: the client (Cx_Source_IP_Address, Cx_Source_Port) and the VIP it addressed,
 * Cx_ALP, the server leg's rewritten addresses (the network-management patent's "pair of
 * pairs": the server and the port the appliance allocated), the sequence offset between the
 * legs, and the counters shown to operators.
 *
 * A handle on row `id` of the columns (columns.ts): the fields are accessors on the prototype
 * (one shape for every handle, so V8 inlines them), which read and write that row. Removal
 * (ConnectionTable.remove) retires the handle: its id becomes -1, where a typed array holds
 * nothing (a read gives undefined, a write goes nowhere), so a handle kept after its
 * connection ended can never touch the connection that takes its number next.
 */
export class Connection {
  /** The connection number, -1 once retired. */
  id: number;
  /** The handshake's state; null once the server has acknowledged the replay (or on removal). */
  hs: Handshake | null = new Handshake();

  /** A new row (`limit`: the table's max_connections, how far the rows may grow for it). */
  constructor(clientIp: number, clientPort: number, vip: number, now: number, limit = Infinity) {
    const n = C.allocate(limit);
    this.id = n;
    C.handles[n] = this;
    C.state[n] = ConnState.SynReceived;
    C.flags[n] = (clientIp >= V6_BASE ? FLAG_CLIENT6 : 0) | (vip >= V6_BASE ? FLAG_VIP6 : 0);
    C.clientIp[n] = stored(clientIp);
    C.clientPort[n] = clientPort;
    C.vip[n] = stored(vip);
    C.alp[n] = -1;
    C.priority[n] = 0;
    C.version[n] = 0;
    C.dialect[n] = 0;
    C.destination[n] = 0;
    C.diverted[n] = 0;
    C.clientIsn[n] = 0;
    C.server[n] = -1;
    C.allocPort[n] = 0;
    C.opener[n] = 0;
    C.delta[n] = 0;
    C.upShift[n] = 0;
    C.leg[n] = 0;
    C.upNext[n] = 0;
    C.downNext[n] = 0;
    C.clientScale[n] = 0;
    C.serverScale[n] = 0;
    C.winToClient[n] = -1;
    C.winToServer[n] = -1;
    C.windowShiftToClient[n] = 0;
    C.windowShiftToServer[n] = 0;
    C.closeAt[n] = 0;
    C.created[n] = now;
    C.lastSeen[n] = now;
    C.packetsIn[n] = 0;
    C.bytesIn[n] = 0;
    C.packetsOut[n] = 0;
    C.bytesOut[n] = 0;
    C.endReason[n] = EndReason.None;
    C.handshakeUs[n] = -1;
    C.replyUs[n] = -1;
    C.rttClientUs[n] = -1;
    C.rttServerUs[n] = -1;
    C.timing[n] = 0;
    C.timedUpEnd[n] = 0;
    C.timedUpAt[n] = 0;
    C.timedDownEnd[n] = 0;
    C.timedDownAt[n] = 0;
    C.retransIn[n] = 0;
    C.retransOut[n] = 0;
    C.minLength[n] = 65535;
    C.maxLength[n] = 0;
    C.flagsIn[n] = 0;
    C.flagsOut[n] = 0;
  }

  get halfOpen(): boolean {
    return this.state < ConnState.Spliced;
  }

  get state(): ConnState {
    return C.state[this.id];
  }
  set state(v: ConnState) {
    C.state[this.id] = v;
  }
  get clientIp(): number {
    return address(C.clientIp, this.id, FLAG_CLIENT6);
  }
  get clientPort(): number {
    return C.clientPort[this.id];
  }
  get vip(): number {
    return address(C.vip, this.id, FLAG_VIP6);
  }
  /** Cx_ALP (an AlpRegistry id, stable across reloads) and the priority it had when classified. */
  get alp(): number {
    return C.alp[this.id];
  }
  set alp(v: number) {
    C.alp[this.id] = v;
  }
  get priority(): number {
    return C.priority[this.id];
  }
  set priority(v: number) {
    C.priority[this.id] = v;
  }
  /** SOCKS version, 4 or 5, once known; and the client's dialect (dialect.ts). */
  get version(): number {
    return C.version[this.id];
  }
  set version(v: number) {
    C.version[this.id] = v;
  }
  get dialect(): number {
    return C.dialect[this.id];
  }
  set dialect(v: number) {
    C.dialect[this.id] = v;
  }
  /** The client's ISN: the server leg starts at it, so client-to-server seq needs no change. */
  get clientIsn(): number {
    return C.clientIsn[this.id];
  }
  set clientIsn(v: number) {
    C.clientIsn[this.id] = v;
  }
  get server(): number {
    return C.server[this.id];
  }
  set server(v: number) {
    C.server[this.id] = v;
  }
  get allocPort(): number {
    return C.allocPort[this.id];
  }
  set allocPort(v: number) {
    C.allocPort[this.id] = v;
  }
  /** serverSeq + delta = clientSeq for server-to-client data. */
  get delta(): number {
    return C.delta[this.id];
  }
  set delta(v: number) {
    C.delta[this.id] = v;
  }
  /**
   * clientSeq + upShift = serverSeq for client-to-server data: what the server leg sent before
   * the client's later bytes, less the client's own handshake (0 when they are the same bytes).
   */
  get upShift(): number {
    return C.upShift[this.id];
  }
  set upShift(v: number) {
    C.upShift[this.id] = v;
  }
  /** The dialect the server leg speaks (dialect.ts), once a server is chosen. */
  get leg(): number {
    return C.leg[this.id];
  }
  set leg(v: number) {
    C.leg[this.id] = v;
  }
  /**
   * The next sequence number of each direction in the server leg's space, from the splice on:
   * what the server expects next from the appliance (client-to-server), and what the appliance
   * expects next from the server (server-to-client, less delta for the client's view). Where
   * each end's receive window starts once what was sent has arrived: a reset there is accepted
   * (RFC 5961 3.2). Kept as int32 (the same numbers modulo 2^32).
   */
  get upNext(): number {
    return C.upNext[this.id];
  }
  set upNext(v: number) {
    C.upNext[this.id] = v;
  }
  get downNext(): number {
    return C.downNext[this.id];
  }
  set downNext(v: number) {
    C.downNext[this.id] = v;
  }
  /**
   * Window shifts as each end reads the fields the appliance sends it (RFC 7323 2.3: the
   * sender's announced shift), and the last window field each end was sent (-1: none yet).
   * With the next sequence numbers they give each end's receive window, for RFC 5961's checks.
   */
  get clientScale(): number {
    return C.clientScale[this.id];
  }
  set clientScale(v: number) {
    C.clientScale[this.id] = v;
  }
  get serverScale(): number {
    return C.serverScale[this.id];
  }
  set serverScale(v: number) {
    C.serverScale[this.id] = v;
  }
  get winToClient(): number {
    return C.winToClient[this.id];
  }
  set winToClient(v: number) {
    C.winToClient[this.id] = v;
  }
  get winToServer(): number {
    return C.winToServer[this.id];
  }
  set winToServer(v: number) {
    C.winToServer[this.id] = v;
  }
  /** Window rescaling per direction: shift the field left by this (negative: right). */
  get windowShiftToClient(): number {
    return C.windowShiftToClient[this.id];
  }
  set windowShiftToClient(v: number) {
    C.windowShiftToClient[this.id] = v;
  }
  get windowShiftToServer(): number {
    return C.windowShiftToServer[this.id];
  }
  set windowShiftToServer(v: number) {
    C.windowShiftToServer[this.id] = v;
  }
  get closeAt(): number {
    return C.closeAt[this.id];
  }
  set closeAt(v: number) {
    C.closeAt[this.id] = v;
  }
  get created(): number {
    return C.created[this.id];
  }
  /** Set again only for a connection taken over from an HA peer (sync/promotion.ts): its age is the peer's. */
  set created(v: number) {
    C.created[this.id] = v;
  }
  get lastSeen(): number {
    return C.lastSeen[this.id];
  }
  set lastSeen(v: number) {
    C.lastSeen[this.id] = v;
  }
  get packetsIn(): number {
    return C.packetsIn[this.id];
  }
  set packetsIn(v: number) {
    C.packetsIn[this.id] = v;
  }
  get bytesIn(): number {
    return C.bytesIn[this.id];
  }
  set bytesIn(v: number) {
    C.bytesIn[this.id] = v;
  }
  get packetsOut(): number {
    return C.packetsOut[this.id];
  }
  set packetsOut(v: number) {
    C.packetsOut[this.id] = v;
  }
  get bytesOut(): number {
    return C.bytesOut[this.id];
  }
  set bytesOut(v: number) {
    C.bytesOut[this.id] = v;
  }
  /** Why the connection left the table (stats/end-reason.ts), set once. */
  get endReason(): EndReason {
    return C.endReason[this.id];
  }
  set endReason(v: EndReason) {
    C.endReason[this.id] = v;
  }
  /**
   * The server leg's SYN to its SYN-ACK, and to the server's SOCKS reply (-1: not yet); times
   * in microseconds of FlowContext.us (a wrapping int32 clock).
   */
  get handshakeUs(): number {
    return C.handshakeUs[this.id];
  }
  set handshakeUs(v: number) {
    C.handshakeUs[this.id] = v;
  }
  get replyUs(): number {
    return C.replyUs[this.id];
  }
  set replyUs(v: number) {
    C.replyUs[this.id] = v;
  }
  /** Smoothed round trip per leg, from the ACKs the appliance forwards (stats/passive.ts); -1: none yet. */
  get rttClientUs(): number {
    return C.rttClientUs[this.id];
  }
  set rttClientUs(v: number) {
    C.rttClientUs[this.id] = v;
  }
  get rttServerUs(): number {
    return C.rttServerUs[this.id];
  }
  set rttServerUs(v: number) {
    C.rttServerUs[this.id] = v;
  }
  /** The segment being timed each way: the ACK that ends its sample (server-leg sequence space) and when it went (bits: passive.ts TIMING_*). */
  get timing(): number {
    return C.timing[this.id];
  }
  set timing(v: number) {
    C.timing[this.id] = v;
  }
  get timedUpEnd(): number {
    return C.timedUpEnd[this.id];
  }
  set timedUpEnd(v: number) {
    C.timedUpEnd[this.id] = v;
  }
  get timedUpAt(): number {
    return C.timedUpAt[this.id];
  }
  set timedUpAt(v: number) {
    C.timedUpAt[this.id] = v;
  }
  get timedDownEnd(): number {
    return C.timedDownEnd[this.id];
  }
  set timedDownEnd(v: number) {
    C.timedDownEnd[this.id] = v;
  }
  get timedDownAt(): number {
    return C.timedDownAt[this.id];
  }
  set timedDownAt(v: number) {
    C.timedDownAt[this.id] = v;
  }
  /** Segments that repeated sequence space already sent, from the client and from the server. */
  get retransIn(): number {
    return C.retransIn[this.id];
  }
  set retransIn(v: number) {
    C.retransIn[this.id] = v;
  }
  get retransOut(): number {
    return C.retransOut[this.id];
  }
  set retransOut(v: number) {
    C.retransOut[this.id] = v;
  }
  /** Datagram lengths seen, both ways (65535 and 0 until the first). */
  get minLength(): number {
    return C.minLength[this.id];
  }
  set minLength(v: number) {
    C.minLength[this.id] = v;
  }
  get maxLength(): number {
    return C.maxLength[this.id];
  }
  set maxLength(v: number) {
    C.maxLength[this.id] = v;
  }
  /** TCP flags seen from each end, ORed. */
  get flagsIn(): number {
    return C.flagsIn[this.id];
  }
  set flagsIn(v: number) {
    C.flagsIn[this.id] = v;
  }
  get flagsOut(): number {
    return C.flagsOut[this.id];
  }
  set flagsOut(v: number) {
    C.flagsOut[this.id] = v;
  }
  /** Whether Cx_ALP was discard-eligible (List_ALP_D) when the connection was classified. */
  get discardEligible(): boolean {
    return (C.flags[this.id] & FLAG_DISCARD_ELIGIBLE) !== 0;
  }
  set discardEligible(v: boolean) {
    this.flag(FLAG_DISCARD_ELIGIBLE, v);
  }
  get finFromClient(): boolean {
    return (C.flags[this.id] & FLAG_FIN_FROM_CLIENT) !== 0;
  }
  set finFromClient(v: boolean) {
    this.flag(FLAG_FIN_FROM_CLIENT, v);
  }
  get finFromServer(): boolean {
    return (C.flags[this.id] & FLAG_FIN_FROM_SERVER) !== 0;
  }
  set finFromServer(v: boolean) {
    this.flag(FLAG_FIN_FROM_SERVER, v);
  }

  /** FLAG_PICKUP_CLIENT and FLAG_PICKUP_SERVER (columns.ts): which legs still re-anchor on their next segment. */
  get pickup(): number {
    return C.flags[this.id] & (FLAG_PICKUP_CLIENT | FLAG_PICKUP_SERVER);
  }
  set pickup(bits: number) {
    const n = this.id;
    C.flags[n] = (C.flags[n] & ~(FLAG_PICKUP_CLIENT | FLAG_PICKUP_SERVER)) | bits;
  }

  /** The server-leg address's slot (flow/openers.ts), 0 for the server's own `local`. */
  get opener(): number {
    return C.opener[this.id];
  }
  set opener(slot: number) {
    C.opener[this.id] = slot;
  }

  /** Taken over lazily from an ECMP peer's sync (FLAG_ADOPTED). */
  get adopted(): boolean {
    return (C.flags[this.id] & FLAG_ADOPTED) !== 0;
  }
  set adopted(v: boolean) {
    this.flag(FLAG_ADOPTED, v);
  }

  /**
   * What the client asked to reach, for people: "host:port"; and where it was diverted to, if
   * it was. Held in the shared text store (texts.ts): connections to one place share one text.
   */
  get destination(): string {
    return TEXTS.text(C.destination[this.id]);
  }
  set destination(v: string) {
    const n = this.id;
    if (n >= 0) C.destination[n] = swapText(C.destination[n], v);
  }
  get diverted(): string {
    return TEXTS.text(C.diverted[this.id]);
  }
  set diverted(v: string) {
    const n = this.id;
    if (n >= 0) C.diverted[n] = swapText(C.diverted[n], v);
  }

  /** The table lets go of the connection: its texts and its number given back, the handle dead (see above). */
  retire(): void {
    const n = this.id;
    if (n < 0) return;
    TEXTS.release(C.destination[n]);
    TEXTS.release(C.diverted[n]);
    this.hs = null;
    this.id = -1;
    C.free(n);
  }

  private flag(bit: number, on: boolean): void {
    const n = this.id;
    C.flags[n] = on ? C.flags[n] | bit : C.flags[n] & ~bit;
  }
}

function swapText(old: number, text: string): number {
  const i = TEXTS.hold(text);
  TEXTS.release(old);
  return i;
}

/** Cx_Source_IP_Address and Cx_Source_Port as one number (48 bits: exact in a double). */
export function clientKey(ip: number, port: number): number {
  return ip * 65536 + port;
}
