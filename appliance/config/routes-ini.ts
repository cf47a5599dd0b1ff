import { formatAddress, isV6, parseAddress } from '../addr/address';
import { ADDRESSES6 } from '../addr/interner';
import { formatPrefixAny, inPrefixAny, parsePrefixAny } from '../addr/prefix';
import { isLinkLocal6, isMulticast6, isUnspecified6 } from '../wire/ipv6-scope';
import { quote } from '../text/printable';
import type { Prefix } from './address';
import type { IniFile } from './ini-file';
import { SectionReader } from './fields';
import type { Problem } from './problem';
import type { Route, ServerRecord } from './tables';

/**
 * appliance.ini [routes] (patent step 703): `PREFIX = TAP` when the prefix is on that TAP's
 * segment, `PREFIX = TAP via GATEWAY` otherwise, IPv4 or IPv6, the gateway of the prefix's
 * family. IPv6 link-local and multicast prefixes are refused: a router never forwards them
 * (RFC 4291 2.5.6, 2.7).
 */
export function readRoutes(file: IniFile, problems: Problem[]): Route[] {
  const routes: Route[] = [];
  const r = file.sections.get('routes');
  if (!r) return routes;
  const reader = new SectionReader(file, r, problems);
  for (const key of r.entries.keys()) {
    const text = reader.raw(key, true);
    const prefix = parsePrefixAny(key);
    if (prefix === undefined) {
      reader.problem(key, 'expected a destination prefix like 203.0.113.0/24 or 2001:db8:113::/48 as the key');
      continue;
    }
    const v6 = isV6(prefix.address);
    if (v6 && unroutable(prefix) !== undefined) {
      reader.problem(key, `${formatPrefixAny(prefix)} is ${unroutable(prefix)}, never routed`);
      continue;
    }
    const twin = routes.find((o) => o.prefix.length === prefix.length && inPrefixAny(o.prefix.address, prefix));
    if (twin !== undefined) {
      reader.problem(key, `the same prefix as the route ${quote(twin.key ?? formatPrefixAny(twin.prefix))}`);
      continue;
    }
    const m = text === undefined ? null : /^([A-Za-z0-9_.-]{1,15})(?:\s+via\s+(\S+))?$/.exec(text);
    if (!m) {
      if (text !== undefined) reader.problem(key, `expected "TAP" or "TAP via GATEWAY", got ${quote(text)}`);
      continue;
    }
    let gateway: number | undefined;
    if (m[2] !== undefined) {
      gateway = parseAddress(m[2]);
      if (gateway === undefined || isV6(gateway) !== v6) {
        reader.problem(key, `expected an ${v6 ? 'IPv6' : 'IPv4'} gateway after "via" (the prefix's family), got ${quote(m[2])}`);
        continue;
      }
      if (v6 && notAGateway(gateway)) {
        reader.problem(key, `gateway ${formatAddress(gateway)} is no single host (unspecified or multicast)`);
        continue;
      }
    }
    routes.push({ prefix, tap: m[1], gateway, key });
  }
  reader.done();
  return routes;
}

/**
 * The rules that span files: each route's TAP is a server's, with a segment of the route's
 * family, and its gateway is a host on that segment (for IPv6 also a link-local address, which
 * is on every link) other than the appliance itself.
 */
export function checkRoutes(routes: readonly Route[], servers: readonly ServerRecord[], at: (key: string) => Omit<Problem, 'message'>, problems: Problem[]): void {
  for (const r of routes) {
    const where = at(r.key ?? formatPrefixAny(r.prefix));
    const v6 = isV6(r.prefix.address);
    const onTap = servers.filter((s) => s.tap === r.tap);
    if (onTap.length === 0) {
      problems.push({ ...where, message: `TAP ${quote(r.tap)} is not the TAP of any server in servers.ini` });
      continue;
    }
    const family = v6 ? 'IPv6' : 'IPv4';
    const segment = onTap.find((s) => isV6(s.local.address) === v6)?.local;
    if (segment === undefined) {
      problems.push({ ...where, message: `TAP ${quote(r.tap)} has no ${family} segment (no server on it has an ${family} "local")` });
      continue;
    }
    const g = r.gateway;
    if (g === undefined) continue;
    if (g === segment.address) {
      problems.push({ ...where, message: `gateway ${formatAddress(g)} is the appliance's own address on ${r.tap}` });
    } else if (!inPrefixAny(g, segment) && !(v6 && isLinkLocal6(ADDRESSES6.bytes, ADDRESSES6.offset(g)))) {
      problems.push({ ...where, message: `gateway ${formatAddress(g)} is not on ${r.tap}'s ${family} segment ${formatPrefixAny(segment)}${v6 ? ' (nor link-local)' : ''}` });
    }
  }
}

/** Why an IPv6 prefix lies in a range no router forwards, or undefined. */
function unroutable(p: Prefix): string | undefined {
  const b = ADDRESSES6.bytes;
  const o = ADDRESSES6.offset(p.address);
  if (p.length >= 8 && isMulticast6(b, o)) return 'multicast (ff00::/8)';
  if (p.length >= 10 && isLinkLocal6(b, o)) return 'link-local (fe80::/10)';
  return undefined;
}

function notAGateway(a: number): boolean {
  const b = ADDRESSES6.bytes;
  const o = ADDRESSES6.offset(a);
  return isMulticast6(b, o) || isUnspecified6(b, o);
}
