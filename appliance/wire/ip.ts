import type { Ipv4View } from './ipv4';
import type { Ipv6Datagram } from './ip6-datagram';

/**
 * A datagram of either family as the connection path reads it: `v6` tells which; src and dst
 * are address numbers (addr/address.ts) either way.
 */
export type IpDatagram = Ipv4View | Ipv6Datagram;
