import { parseAddress } from '../addr/address';
import { parseIpv4 } from './address';
import type { SectionReader } from './fields';
import { quote } from '../text/printable';

/**
 * ha.ini [bgp] (issue 16): what `socksalp frr` writes into frr.conf for an ECMP member, which
 * announces the VIPs to the intranet's router(s) by BGP (RFC 4271) while it serves them. The
 * appliance itself reads none of it.
 */
export interface BgpSettings {
  /** This appliance's AS number (RFC 6793: four octets). */
  asn: number;
  /** RFC 4271 4.2's BGP Identifier, an IPv4 address: this appliance's own. */
  routerId: number;
  /** The router(s) to peer with, IPv4 or IPv6 addresses (each session carries both families: RFC 4760). */
  neighbors: number[];
  /** Their AS number. */
  neighborAsn: number;
  /** RFC 4271 4.4 and 10: seconds between KEEPALIVEs, and the hold time after which a silent session is dropped (0, or at least 3). */
  keepaliveS: number;
  holdS: number;
}

const ASN_MAX = 4294967294;

/**
 * Reads [bgp]: asn and neighbor_asn (1 to 4294967294, required), router_id (IPv4, required),
 * neighbors (address list, required), keepalive_s (1 to 21845, default 1), hold_s (3 to 65535,
 * default 3, at least three keepalives). Problems go to `r`'s list.
 */
export function readBgp(r: SectionReader): BgpSettings | undefined {
  const asn = r.int('asn', 1, ASN_MAX);
  const idText = r.raw('router_id', true);
  const neighborTexts = r.list('neighbors', true);
  const neighborAsn = r.int('neighbor_asn', 1, ASN_MAX);
  const keepaliveS = r.int('keepalive_s', 1, 21845, 1)!;
  const holdS = r.int('hold_s', 3, 65535, 3)!;
  r.done();
  const routerId = idText === undefined ? undefined : parseIpv4(idText);
  if (idText !== undefined && routerId === undefined) r.problem('router_id', `expected an IPv4 address (BGP's identifier: this appliance's own), got ${quote(idText)}`);
  if (holdS < 3 * keepaliveS) r.problem('hold_s', `expected at least three keepalive_s (${3 * keepaliveS}), got ${holdS}: one lost KEEPALIVE would drop the session`);
  const neighbors: number[] = [];
  for (const t of neighborTexts ?? []) {
    const a = parseAddress(t);
    if (a === undefined) r.problem('neighbors', `expected an IPv4 or IPv6 address like 198.18.10.1 or 2001:db8:18:10::1, got ${quote(t)}`);
    else if (neighbors.includes(a)) r.problem('neighbors', `${quote(t)} is listed twice`);
    else neighbors.push(a);
  }
  if (asn !== undefined && asn === neighborAsn) r.problem('neighbor_asn', `is asn (${asn}): the routers are external peers (eBGP), each member an AS of its own or one for all`);
  if (asn === undefined || routerId === undefined || neighborAsn === undefined || neighbors.length === 0 || neighbors.length !== (neighborTexts ?? []).length || asn === neighborAsn || holdS < 3 * keepaliveS) return undefined;
  return { asn, routerId, neighbors, neighborAsn, keepaliveS, holdS };
}
