import { EndReason } from '../stats/end-reason';

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
 */
export class Connection {
  state = ConnState.SynReceived;
  readonly clientIp: number;
  readonly clientPort: number;
  readonly vip: number;
  /** Cx_ALP (an AlpRegistry id, stable across reloads) and the priority it had when classified. */
  alp = -1;
  priority = 0;
  /** Whether Cx_ALP was discard-eligible (List_ALP_D) when the connection was classified. */
  discardEligible = false;
  /** SOCKS version, 4 or 5, once known; and the client's dialect (dialect.ts). */
  version = 0;
  dialect = 0;
  /** What the client asked to reach, for people: "host:port"; and where it was diverted to, if it was. */
  destination = '';
  diverted = '';
  /** The client's ISN: the server leg starts at it, so client-to-server seq needs no change. */
  clientIsn = 0;
  /** The handshake's state; null once the server has acknowledged the replay (or on removal). */
  hs: Handshake | null = new Handshake();

  server = -1;
  allocPort = 0;
  /** serverSeq + delta = clientSeq for server-to-client data. */
  delta = 0;
  /**
   * clientSeq + upShift = serverSeq for client-to-server data: what the server leg sent before
   * the client's later bytes, less the client's own handshake (0 when they are the same bytes).
   */
  upShift = 0;
  /** The dialect the server leg speaks (dialect.ts), once a server is chosen. */
  leg = 0;
  /**
   * The next sequence number of each direction in the server leg's space, from the splice on:
   * what the server expects next from the appliance (client-to-server), and what the appliance
   * expects next from the server (server-to-client, less delta for the client's view). Where
   * each end's receive window starts once what was sent has arrived: a reset there is accepted
   * (RFC 5961 3.2). Kept as int32 (the same numbers modulo 2^32), which V8 stores in the
   * object itself; a uint32 above 2^31 would cost a heap number each.
   */
  upNext = 0;
  downNext = 0;
  /**
   * Window shifts as each end reads the fields the appliance sends it (RFC 7323 2.3: the
   * sender's announced shift), and the last window field each end was sent (-1: none yet).
   * With the next sequence numbers they give each end's receive window, for RFC 5961's checks.
   */
  clientScale = 0;
  serverScale = 0;
  winToClient = -1;
  winToServer = -1;
  /** Window rescaling per direction: shift the field left by this (negative: right). */
  windowShiftToClient = 0;
  windowShiftToServer = 0;

  finFromClient = false;
  finFromServer = false;
  closeAt = 0;

  readonly created: number;
  lastSeen: number;
  packetsIn = 0;
  bytesIn = 0;
  packetsOut = 0;
  bytesOut = 0;

  // ---- the network-management patent's per-connection statistics (stats/): small integers,
  // stored in the object; times in microseconds of FlowContext.us (a wrapping int32 clock).
  /** Why the connection left the table (stats/end-reason.ts), set once. */
  endReason = EndReason.None;
  /** The server leg's SYN to its SYN-ACK, and to the server's SOCKS reply (-1: not yet). */
  handshakeUs = -1;
  replyUs = -1;
  /** Smoothed round trip per leg, from the ACKs the appliance forwards (stats/passive.ts); -1: none yet. */
  rttClientUs = -1;
  rttServerUs = -1;
  /** The segment being timed each way: the ACK that ends its sample (server-leg sequence space) and when it went (bits: passive.ts TIMING_*). */
  timing = 0;
  timedUpEnd = 0;
  timedUpAt = 0;
  timedDownEnd = 0;
  timedDownAt = 0;
  /** Segments that repeated sequence space already sent, from the client and from the server. */
  retransIn = 0;
  retransOut = 0;
  /** IP total lengths seen, both ways (65535 and 0 until the first). */
  minLength = 65535;
  maxLength = 0;
  /** TCP flags seen from each end, ORed. */
  flagsIn = 0;
  flagsOut = 0;

  constructor(readonly key: number, clientIp: number, clientPort: number, vip: number, now: number) {
    this.clientIp = clientIp;
    this.clientPort = clientPort;
    this.vip = vip;
    this.created = now;
    this.lastSeen = now;
  }

  get halfOpen(): boolean {
    return this.state < ConnState.Spliced;
  }
}

/** Cx_Source_IP_Address and Cx_Source_Port as one number (48 bits: exact in a double). */
export function clientKey(ip: number, port: number): number {
  return ip * 65536 + port;
}

/** The reverse direction's key: server index and the port the appliance allocated. */
export function serverKey(server: number, allocPort: number): number {
  return server * 65536 + allocPort;
}
