import { FIRST_DATA_SET_ID, VARIABLE_LENGTH, type FieldSpec } from '../wire/ipfix';

/**
 * The Templates the appliance exports (RFC 7011 3.4.1): a connection as one biflow record
 * (RFC 5103) with both legs. The client leg is the flow's own addresses (client to VIP); the
 * server leg is the NAT elements of RFC 8158 / IANA (the appliance's local address and port
 * to the SOCKS server). The legs' families are independent (an IPv6 client may be carried by
 * an IPv4 server and the other way round), so there are four Templates, one per pair of
 * families, alike but for the address elements: IPv4's (8, 12; 225, 226) or IPv6's (27, 28;
 * 281, 282). ipVersion (60) is left out: a record has two legs, and its Template names both
 * families already. Counts are deltas since the previous record of the connection (its
 * interim records), so a collector that adds records up (nfdump -a, -s) gets the totals.
 * Fixed-length fields first, then the variable-length strings. README "IPFIX" lists each.
 */

/** RFC 5103 6.1: the reverse direction of an IANA element is that element under this PEN. */
const PEN_REVERSE = 29305;
/**
 * The appliance's own elements are under 32473, the PEN RFC 5612 reserves for documentation:
 * socksalp has no PEN of its own. An operator who assigns one changes it here and in the
 * collector's element list.
 */
const PEN_SOCKSALP = 32473;

/** IANA "IPFIX Information Elements" numbers (RFC 7012 and the registry). */
const IE = {
  octetDeltaCount: 1,
  packetDeltaCount: 2,
  protocolIdentifier: 4,
  tcpControlBits: 6,
  sourceTransportPort: 7,
  sourceIPv4Address: 8,
  destinationTransportPort: 11,
  destinationIPv4Address: 12,
  sourceIPv6Address: 27,
  destinationIPv6Address: 28,
  flowEndReason: 136,
  flowStartMilliseconds: 152,
  flowEndMilliseconds: 153,
  postNATSourceIPv4Address: 225,
  postNATDestinationIPv4Address: 226,
  postNAPTSourceTransportPort: 227,
  postNAPTDestinationTransportPort: 228,
  postNATSourceIPv6Address: 281,
  postNATDestinationIPv6Address: 282,
} as const;

/** The appliance's elements under PEN_SOCKSALP. */
const SOCKSALP_IE = {
  priority: 1,
  handshakeMicroseconds: 2,
  replyMicroseconds: 3,
  clientRttMicroseconds: 4,
  serverRttMicroseconds: 5,
  retransmissionsFromClient: 6,
  retransmissionsFromServer: 7,
  endReason: 8,
  alpName: 9,
  serverName: 10,
  destination: 11,
  diverted: 12,
  /**
   * The smallest and largest IP total length seen in either direction. Not IANA's
   * minimum/maximumIpTotalLength (25, 26): in a biflow record an element without the reverse
   * PEN is the forward direction's (RFC 5103 6.1), and the statistics keep one range for both.
   */
  minimumIpTotalLengthBoth: 13,
  maximumIpTotalLengthBoth: 14,
} as const;

const iana = (id: number, length: number): FieldSpec => ({ id, length, enterprise: 0 });
const reverse = (id: number, length: number): FieldSpec => ({ id, length, enterprise: PEN_REVERSE });
const own = (id: number, length: number): FieldSpec => ({ id, length, enterprise: PEN_SOCKSALP });

/** A leg's address elements: source and destination, IPv4's or IPv6's. */
const clientAddresses = (v6: boolean) => (v6
  ? [iana(IE.sourceIPv6Address, 16), iana(IE.destinationIPv6Address, 16)]
  : [iana(IE.sourceIPv4Address, 4), iana(IE.destinationIPv4Address, 4)]);
const serverAddresses = (v6: boolean) => (v6
  ? [iana(IE.postNATSourceIPv6Address, 16), iana(IE.postNATDestinationIPv6Address, 16)]
  : [iana(IE.postNATSourceIPv4Address, 4), iana(IE.postNATDestinationIPv4Address, 4)]);

/** In the order flow-record.ts writes them. */
function flowTemplate(client6: boolean, server6: boolean): readonly FieldSpec[] {
  return [
    ...clientAddresses(client6),
    iana(IE.sourceTransportPort, 2),
    iana(IE.destinationTransportPort, 2),
    iana(IE.protocolIdentifier, 1),
    ...serverAddresses(server6),
    iana(IE.postNAPTSourceTransportPort, 2),
    iana(IE.postNAPTDestinationTransportPort, 2),
    iana(IE.octetDeltaCount, 8),
    iana(IE.packetDeltaCount, 8),
    reverse(IE.octetDeltaCount, 8),
    reverse(IE.packetDeltaCount, 8),
    iana(IE.flowStartMilliseconds, 8),
    iana(IE.flowEndMilliseconds, 8),
    iana(IE.tcpControlBits, 2),
    reverse(IE.tcpControlBits, 2),
    iana(IE.flowEndReason, 1),
    own(SOCKSALP_IE.minimumIpTotalLengthBoth, 2),
    own(SOCKSALP_IE.maximumIpTotalLengthBoth, 2),
    own(SOCKSALP_IE.priority, 1),
    own(SOCKSALP_IE.handshakeMicroseconds, 4),
    own(SOCKSALP_IE.replyMicroseconds, 4),
    own(SOCKSALP_IE.clientRttMicroseconds, 4),
    own(SOCKSALP_IE.serverRttMicroseconds, 4),
    own(SOCKSALP_IE.retransmissionsFromClient, 4),
    own(SOCKSALP_IE.retransmissionsFromServer, 4),
    own(SOCKSALP_IE.endReason, 1),
    own(SOCKSALP_IE.alpName, VARIABLE_LENGTH),
    own(SOCKSALP_IE.serverName, VARIABLE_LENGTH),
    own(SOCKSALP_IE.destination, VARIABLE_LENGTH),
    own(SOCKSALP_IE.diverted, VARIABLE_LENGTH),
  ];
}

/** Template bits: the client leg is IPv6 (1), the server leg is IPv6 (2). */
export const CLIENT_V6 = 1;
export const SERVER_V6 = 2;

/**
 * The Templates by their bits; the Template ID is the first a Data Set may have plus the
 * bits, so the all-IPv4 one keeps 256, the ID it had before IPv6.
 */
export const FLOW_TEMPLATES: readonly (readonly FieldSpec[])[] = [0, 1, 2, 3].map((k) => flowTemplate((k & CLIENT_V6) !== 0, (k & SERVER_V6) !== 0));
export const FLOW_TEMPLATE_ID = FIRST_DATA_SET_ID;

/** The bytes of a record's fixed-length fields, by Template bits. */
export const FLOW_FIXED_LENGTHS = Int32Array.from(FLOW_TEMPLATES, (t) => t.reduce((n, f) => (f.length === VARIABLE_LENGTH ? n : n + f.length), 0));

/** Bytes a name (ALP, server) and an endpoint ("host:port", 255 + 6) may take in a record; longer ones are cut. */
export const NAME_MAX = 64;
export const ENDPOINT_MAX = 261;

/** Sent as all ones: a latency or RTT the appliance did not measure (its -1). */
export const UNMEASURED = 0xffffffff;
