/**
 * Why a connection left the Socks ALP Connection table: the network-management patent's
 * "network or transport failures" per connection, as `ctl conns`, the metrics' outcome label
 * and the flow records (IPFIX flowEndReason) name them.
 */
export const enum EndReason {
  None = 0,
  /** Both ends sent their FIN. */
  Fin = 1,
  ClientReset = 2,
  ServerReset = 3,
  /** Established, then silent for idle_timeout (step 714). */
  IdleTimeout = 4,
  /** The client's SOCKS request did not come within half_open_timeout. */
  HandshakeTimeout = 5,
  /** The appliance refused the client (no server for its ALP, a bad request), or the server refused its request (a SOCKS failure reply). */
  Refused = 6,
  /** Every server tried failed the handshake, or the chosen one failed after the client had been answered (a lost replay, a bad reply). */
  ServerFailed = 7,
  /** `divert --mode move` sent its destination elsewhere: both legs reset. */
  Moved = 8,
  /** The client reused its port for a new connection, or left before the splice. */
  Abandoned = 9,
  /** The appliance stopped. */
  Shutdown = 10,
}

export const END_REASONS = [
  '', 'fin', 'client-reset', 'server-reset', 'idle-timeout', 'handshake-timeout', 'refused', 'server-failed', 'moved', 'abandoned', 'shutdown',
] as const;

