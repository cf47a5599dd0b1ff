import { END_REASONS } from '../stats/end-reason';

/** IANA flowEndReason (RFC 7012 / RFC 5102 5.11.3) values. */
const FLOW_END_IDLE = 1;
/** An interim record: the flow goes on, it is reported for its length (the `interim` interval). */
export const FLOW_END_ACTIVE = 2;
const FLOW_END_DETECTED = 3;
const FLOW_END_FORCED = 4;

/**
 * The appliance's end reasons as flowEndReason: the timeouts are idle timeouts; what either
 * end or the SOCKS exchange ended is an end detected; `move` and the appliance's stop are
 * forced ends (RFC 5102's own example of one). No reason is "lack of resources" (5): a full
 * table refuses the client before it has a row, and a refusal's cause is not kept. The exact
 * reason goes in the appliance's own element (template.ts SOCKSALP_IE.endReason).
 */
const BY_NAME: Record<(typeof END_REASONS)[number], number> = {
  '': FLOW_END_DETECTED,
  fin: FLOW_END_DETECTED,
  'client-reset': FLOW_END_DETECTED,
  'server-reset': FLOW_END_DETECTED,
  'idle-timeout': FLOW_END_IDLE,
  'handshake-timeout': FLOW_END_IDLE,
  refused: FLOW_END_DETECTED,
  'server-failed': FLOW_END_DETECTED,
  moved: FLOW_END_FORCED,
  abandoned: FLOW_END_DETECTED,
  shutdown: FLOW_END_FORCED,
};

/** flowEndReason by EndReason number, read once per record. */
export const FLOW_END_REASON = Uint8Array.from(END_REASONS, (name) => BY_NAME[name]);
