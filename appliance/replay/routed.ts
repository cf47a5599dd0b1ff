import { formatAddress, formatAddressPort, isV6 } from '../addr/address';
import { formatPrefixAny, inPrefixAny } from '../addr/prefix';
import type { Route } from '../config/tables';
import type { DivertedAddresses } from '../divert/table';
import { PROTO_TCP } from '../wire/ipv4';
import { ACK, RST, SYN } from '../wire/tcp';
import type { PacketFacts } from './packets';

/** A flow that is not SOCKS (patent step 703) as the configuration would forward it. */
export interface RoutedFlow {
  protocol: 'tcp' | 'udp';
  client: string;
  destination: string;
  /** Where the diverted-address table sends it ('' when it does not). */
  diverted: string;
  /** The [routes] entry that carries it ("203.0.113.0/24 = alp-sa via 198.19.1.2"), or '' when none does. */
  route: string;
  start: number;
}

/**
 * Routed traffic from the intranet (a TCP SYN, or a UDP datagram that answers no flow already
 * seen) to an address that is no VIP: the diverted-address table first, as forward/diversion.ts
 * looks it up (address and port; a diversion to a host name or to the other family is not taken
 * for routed traffic),
 * then the longest [routes] prefix for where it goes (forward/routes.ts).
 */
export class RoutedFlows {
  readonly flows: RoutedFlow[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly routes: readonly Route[], private readonly table: DivertedAddresses, private readonly since: (t: number) => number) {}

  packet(f: PacketFacts): void {
    const tcp = f.protocol === PROTO_TCP;
    if (tcp && (f.flags & (SYN | ACK | RST)) !== SYN) return;
    const key = `${f.protocol} ${f.src}:${f.srcPort} ${f.dst}:${f.dstPort}`;
    const back = `${f.protocol} ${f.dst}:${f.dstPort} ${f.src}:${f.srcPort}`;
    // A retransmitted SYN, a flow's next datagram, or the answer of one seen already.
    if (this.seen.has(key) || this.seen.has(back)) return;
    this.seen.add(key);
    const found = this.table.size === 0 ? undefined : this.table.lookupAddress(f.dst, f.dstPort);
    // A routed flow keeps its family (divert/current.ts): an entry to the other family leaves it as it is.
    const to = found !== undefined && found.kind === (isV6(f.dst) ? 'ipv6' : 'ipv4') ? found : undefined;
    const address = to !== undefined ? to.address : f.dst;
    const port = to !== undefined ? to.port ?? f.dstPort : f.dstPort;
    this.flows.push({
      protocol: tcp ? 'tcp' : 'udp',
      client: formatAddressPort(f.src, f.srcPort),
      destination: formatAddressPort(f.dst, f.dstPort),
      diverted: address !== f.dst || port !== f.dstPort ? formatAddressPort(address, port) : '',
      route: this.route(address),
      start: this.since(f.time),
    });
  }

  /** The longest prefix holding `dst`; among equally long ones, the first listed (as Router.lookup). */
  private route(dst: number): string {
    let best: Route | undefined;
    // Never across families (inPrefixAny): an IPv6 destination takes only an IPv6 prefix.
    for (const r of this.routes) if (inPrefixAny(dst, r.prefix) && (best === undefined || r.prefix.length > best.prefix.length)) best = r;
    if (best === undefined) return '';
    return `${formatPrefixAny(best.prefix)} = ${best.tap}${best.gateway === undefined ? '' : ` via ${formatAddress(best.gateway)}`}`;
  }
}
