import { parseAddress, isV6 } from '../addr/address';
import { notAHost, parsePrefixAny } from '../addr/prefix';
import type { Prefix } from './address';
import type { SectionReader } from './fields';
import { quote } from '../text/printable';

/**
 * ha.ini [vrrp] (issue 16): what `socksalp keepalived` writes into keepalived.conf for the
 * pair's shared next hop (VRRPv3, RFC 5798). The appliance itself reads none of it.
 */
export interface VrrpSettings {
  /** The intranet NIC VRRP runs on, and the shared addresses go on. */
  interface: string;
  /** RFC 5798 5.2.3 VRID, the same on both appliances; one per family (their VRIDs are apart). */
  routerId: number;
  /** RFC 5798 5.2.4: the higher one is master; 255 (address owner) is left out, as neither appliance owns the address. */
  priority: number;
  /** Seconds between advertisements, in centiseconds (RFC 5798 5.2.7's 12-bit field: 0.01 to 40.95). */
  advertInt: number;
  /** The shared addresses, ADDRESS/PREFIX, of one family or both (one VRRP instance each). */
  addresses: Prefix[];
  /** Where advertisements go when the intranet carries no multicast; empty: multicast (RFC 5798 5.1.1.2). */
  unicastPeers: number[];
  /** Whether a higher priority takes mastership back from a lower one that holds it (RFC 5798 6.4.3). */
  preempt: boolean;
}

/** RFC 5798 5.2.7: Max Adver Int is 12 bits of centiseconds. */
const ADVERT_MAX_CS = 4095;

/**
 * Reads [vrrp]: interface (required), router_id (1 to 255, required), priority (1 to 254,
 * default 100), advert_int (seconds, 0.01 to 40.95, default 1), address (ADDRESS/PREFIX list,
 * required), unicast_peers (address list, optional: one peer at least of each family that
 * `address` has), preempt (yes/no, default yes). Problems go to `r`'s list.
 */
export function readVrrp(r: SectionReader): VrrpSettings | undefined {
  const iface = r.ifname('interface');
  const routerId = r.int('router_id', 1, 255);
  const priority = r.int('priority', 1, 254, 100)!;
  const advertText = r.raw('advert_int', false);
  const addressTexts = r.list('address', true);
  const peerTexts = r.list('unicast_peers', false) ?? [];
  const preempt = r.bool('preempt', true);
  r.done();

  let advertInt = 1;
  if (advertText !== undefined) {
    const cs = /^\d{1,2}(\.\d{1,2})?$/.test(advertText) ? Math.round(Number(advertText) * 100) : 0;
    if (cs < 1 || cs > ADVERT_MAX_CS) r.problem('advert_int', `expected seconds from 0.01 to 40.95 (VRRPv3's advertisement interval, in hundredths), got ${quote(advertText)}`);
    else advertInt = cs / 100;
  }
  const addresses: Prefix[] = [];
  for (const t of addressTexts ?? []) {
    const p = parsePrefixAny(t);
    if (p === undefined) r.problem('address', `expected ADDRESS/PREFIX like 198.18.0.1/24 or 2001:db8:18::1/64, got ${quote(t)}`);
    else if (notAHost(p)) r.problem('address', `${quote(t)} is its subnet's network or broadcast address, no host's`);
    else if (addresses.some((q) => q.address === p.address)) r.problem('address', `${quote(t)} is listed twice`);
    else addresses.push(p);
  }
  const unicastPeers: number[] = [];
  for (const t of peerTexts) {
    const a = parseAddress(t);
    if (a === undefined) r.problem('unicast_peers', `expected an IPv4 or IPv6 address like 198.18.0.4 or 2001:db8:18::4, got ${quote(t)}`);
    else if (addresses.some((p) => p.address === a)) r.problem('unicast_peers', `${quote(t)} is one of the shared addresses, not a peer's own`);
    else if (unicastPeers.includes(a)) r.problem('unicast_peers', `${quote(t)} is listed twice`);
    else unicastPeers.push(a);
  }
  // keepalived's instance of one family sends only to peers of that family.
  if (unicastPeers.length) {
    for (const v6 of [false, true]) {
      if (addresses.some((p) => isV6(p.address) === v6) && !unicastPeers.some((a) => isV6(a) === v6)) {
        r.problem('unicast_peers', `no IPv${v6 ? 6 : 4} peer for the IPv${v6 ? 6 : 4} addresses: each family's VRRP instance advertises to peers of its own family`);
      }
    }
  }
  if (iface === undefined || routerId === undefined || addresses.length === 0 || addresses.length !== (addressTexts ?? []).length) return undefined;
  return { interface: iface, routerId, priority, advertInt, addresses, unicastPeers, preempt };
}
