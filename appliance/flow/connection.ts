import type { SocksVersion } from '../config/tables';

/**
 * A record of the Socks ALP Connection table (patent figure 6, 612), grown into what late
 * binding and the splice need: the client leg the appliance answered itself, the server leg
 * it opened with rewritten addresses (the network-management patent's "pair of pairs"), the
 * sequence offset between the legs, and the counters shown to operators.
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

export const STATE_NAMES = ['syn-received', 'collecting', 'connecting', 'replaying', 'spliced', 'refused', 'closed'];

/** Replay phases of the server leg (SOCKS5 only has the first two). */
export const enum Phase {
  Greeting = 0,
  Auth = 1,
  Request = 2,
}

export class Connection {
  state = ConnState.SynReceived;
  // Cx_Source_IP_Address, Cx_Source_Port, and the VIP the client addressed.
  readonly clientIp: number;
  readonly clientPort: number;
  readonly vip: number;
  /** Cx_ALP (TrafficAnalyzer index), with its priority and discard eligibility. */
  alp = -1;
  priority = 0;
  /** SOCKS version, 4 or 5, once known; and the dialect servers must speak for it. */
  version = 0;
  dialect: SocksVersion = '5';
  /** What the client asked to reach, for people: "host:port". */
  destination = '';

  // Client leg: the appliance is the TCP peer until the splice.
  clientIsn = 0;
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

  /** The client's bytes from its first data byte: the SOCKS handshake and anything after it. */
  collected: Buffer | null = null;
  collectedLength = 0;
  /** Bytes of the handshake's phases within `collected`. */
  greetingEnd = 0;
  authEnd = 0;
  requestEnd = 0;
  /** SOCKS5: the method and what the appliance answered the client so far (to check the server's copy). */
  method = -1;
  answered = 0;

  // Server leg.
  server = -1;
  /** Servers that already failed this connection (bit per server index). */
  tried = 0;
  allocPort = 0;
  serverIsn = 0;
  /** Next sequence number expected from the server. */
  serverNext = 0;
  serverWscale = -1;
  phase = Phase.Greeting;
  /** Server bytes received during the replay, to compare with what the client was answered. */
  swallowed = 0;
  /** End (in client bytes) of what has been replayed so far, and the highest the server acknowledged. */
  replayedTo = 0;
  serverAcked = 0;
  /** serverSeq + delta = clientSeq for server-to-client data. */
  delta = 0;
  /** Window rescaling per direction: shift the field left by this (negative: right). */
  windowShiftToClient = 0;
  windowShiftToServer = 0;

  // Timers and closing.
  deadline = 0;
  connectStarted = 0;
  retries = 0;
  finFromClient = false;
  finFromServer = false;
  closeAt = 0;

  // Counters.
  readonly created: number;
  lastSeen: number;
  packetsIn = 0;
  bytesIn = 0;
  packetsOut = 0;
  bytesOut = 0;

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
