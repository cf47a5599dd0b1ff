import { ConnState, type Connection } from './connection';

/**
 * What happens to a connection: the columns of its transition table. Client segments are
 * told apart by their flags (RFC 9293 3.10.7), server segments are one event whose meaning the
 * state gives, and the clock is the last.
 */
export const enum Ev {
  ClientSyn = 0,
  Client = 1,
  ClientFin = 2,
  ClientRst = 3,
  Server = 4,
  Timer = 5,
}
export const EVENTS = 6;

/** A transition: true when it took the packet's slot (forwarded it), false to have it released. */
export type Transition = (c: Connection) => boolean;

/** The transitions the table names, each a connection's step on one event. */
interface Transitions {
  ackFin: Transition;
  clientGaveUp: Transition;
  clientResetBeforeSplice: Transition;
  collect: Transition;
  collectMore: Transition;
  dropEntry: Transition;
  established: Transition;
  halfOpenTimeout: Transition;
  lingerTimer: Transition;
  replayTimer: Transition;
  serverAnswersHandshake: Transition;
  serverAnswersSyn: Transition;
  synAgain: Transition;
  synTimer: Transition;
  tailToClient: Transition;
  tailToServer: Transition;
}

/**
 * The table. Rows are states (connection.ts), columns events; an empty cell ignores the
 * event. Each cell names the patent step (figure 7: 702-714; figure 10: 1001-1008) or the
 * RFC it follows.
 */
export function transitionTable(x: Transitions): (Transition | undefined)[] {
  const t: (Transition | undefined)[] = new Array(7 * EVENTS).fill(undefined);
  const row = (state: ConnState, cells: Partial<Record<Ev, Transition>>) => {
    for (const [ev, fn] of Object.entries(cells)) t[state * EVENTS + Number(ev)] = fn;
  };
  row(ConnState.SynReceived, {
    [Ev.ClientSyn]: x.synAgain, //               RFC 9293 3.10.7.4: a retransmitted SYN, answered again
    [Ev.Client]: x.established, //               step 705: the handshake completes; bytes may come with it
    [Ev.ClientFin]: x.established,
    [Ev.ClientRst]: x.dropEntry, //              RFC 9293 3.10.7.4: RST in SYN-RECEIVED
    [Ev.Timer]: x.halfOpenTimeout, //            half_open_timeout: a SYN flood cannot fill the table
  });
  row(ConnState.Collecting, {
    [Ev.Client]: x.collect, //                   steps 705-710: reassemble, answer SOCKS5, classify, select
    [Ev.ClientFin]: x.clientGaveUp, //           the client left before the splice
    [Ev.ClientRst]: x.dropEntry,
    [Ev.Timer]: x.halfOpenTimeout,
  });
  row(ConnState.Connecting, {
    [Ev.Client]: x.collectMore, //               early data waits with the request
    [Ev.ClientFin]: x.clientGaveUp,
    [Ev.ClientRst]: x.dropEntry,
    [Ev.Server]: x.serverAnswersSyn, //          step 1008's server: SYN-ACK, RST or a stale 4-tuple (RFC 9293 3.10.7.3)
    [Ev.Timer]: x.synTimer, //                   SYN retransmission, then connect_timeout: the next server
  });
  row(ConnState.Replaying, {
    [Ev.Client]: x.collectMore,
    [Ev.ClientFin]: x.clientGaveUp,
    [Ev.ClientRst]: x.clientResetBeforeSplice,
    [Ev.Server]: x.serverAnswersHandshake, //    the server's answers checked against the client's
    [Ev.Timer]: x.replayTimer, //                the replay retransmitted until acknowledged
  });
  row(ConnState.Spliced, {
    [Ev.Client]: x.tailToServer, //              step 711: forward, while the handshake's tail is settled
    [Ev.ClientFin]: x.tailToServer,
    [Ev.ClientRst]: x.tailToServer,
    [Ev.Server]: x.tailToClient, //              the server's reply translated, then forwarded
    [Ev.Timer]: x.replayTimer,
  });
  row(ConnState.Refused, {
    [Ev.ClientFin]: x.ackFin, //                 the client closes cleanly after the refusal
    [Ev.Timer]: x.lingerTimer,
  });
  row(ConnState.Closed, {
    [Ev.Client]: x.tailToServer, //              step 714: retransmissions during the linger still pass
    [Ev.ClientFin]: x.tailToServer,
    [Ev.ClientRst]: x.tailToServer,
    [Ev.Server]: x.tailToClient,
    [Ev.Timer]: x.lingerTimer,
  });
  return t;
}
