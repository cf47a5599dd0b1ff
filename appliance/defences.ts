/**
 * The hardening's per-segment defences (RFC 5961's checks and the splice's window checks,
 * reverse-path filtering of the server segments, neighbour probing) may be turned off for one
 * run with SOCKSALP_DEFENCES=off, so that `npm run bench` measures what they cost beside them,
 * in the same run. Not for production: the appliance says so at start when it is set.
 */
export const DEFENCES = process.env.SOCKSALP_DEFENCES !== 'off';
