import { formatIpv4, parseIpv4, parseIpv6 } from '../config/address';
import { formatAddress } from '../addr/address';
import { ADDRESSES6 } from '../addr/interner';
import { LABEL_MAX } from '../wire/dns';

/**
 * One side of a diverted-address entry (patent figure 2b, table 209): an address of either
 * family with a port, an address for every port, or a host name with or without a port.
 * `address` is an address number (addr/address.ts): an IPv4 address as itself, an IPv6 one
 * interned (held for good, as every configured address is), so that the table's indexes and
 * the data path compare numbers whatever the family.
 *
 * `port` absent: every port (as an original), or the original port kept (as a diverted side).
 * `name` is held normalized: lower case, without a trailing dot, so that one name has one key.
 */
export type Endpoint =
  | { readonly kind: 'ipv4'; readonly address: number; readonly port?: number }
  | { readonly kind: 'ipv6'; readonly address: number; readonly port?: number }
  | { readonly kind: 'name'; readonly name: string; readonly port?: number };

/** What a SOCKS CONNECT names (RFC 1928 ATYP 1, 4, 3), always with its port. */
export type Destination =
  | { readonly kind: 'ipv4'; readonly address: number; readonly port: number }
  | { readonly kind: 'ipv6'; readonly address: number; readonly port: number }
  | { readonly kind: 'name'; readonly name: string; readonly port: number };

/** One row of the table: connections to `original` go to `diverted`. */
export interface DivertedEntry {
  readonly original: Endpoint;
  readonly diverted: Endpoint;
}

export type Parsed = { ok: true; endpoint: Endpoint } | { ok: false; why: string };

/** RFC 1123 (2.1) limits: a name is at most 253 bytes written without its trailing dot. */
export const NAME_MAX = 253;

const LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

/**
 * `203.0.113.80:8080`, `203.0.113.80`, `[2001:db8::80]:8080`, `2001:db8::80` (or `[2001:db8::80]`),
 * `web.socksalp.test:80` or `web.socksalp.test` (a trailing dot and any case are accepted; the
 * name is kept normalized). Strict: no leading zeros in an IPv4 address or a port, ports
 * 1-65535, an IPv6 address with a port in brackets (RFC 3986 3.2.2, RFC 5952 6), RFC 1123 host
 * names whose last label is not all digits (so that a mistyped address such as 203.0.113.800
 * is not taken for a name).
 *
 * `hold`: an IPv6 address is interned and held for good (a configured one). Without it, an
 * IPv6 address nothing holds is refused: no table entry can name it (each holds its own), so a
 * reader that only compares with the table (a connection's destination) keeps nothing.
 */
export function parseEndpoint(text: string, hold = true): Parsed {
  if (text === '') return { ok: false, why: 'it is empty' };
  let host = text;
  let port: number | undefined;
  let bracketed = false;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return { ok: false, why: 'an IPv6 address in "[" has its "]"' };
    host = text.slice(1, close);
    bracketed = true;
    const rest = text.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return { ok: false, why: 'after "]" comes ":" and the port, or nothing' };
      port = parsePort(rest.slice(1));
      if (port === undefined) return { ok: false, why: PORT_WHY };
    }
  } else if (text.indexOf(':') !== text.lastIndexOf(':')) {
    // More than one ":": an IPv6 address without a port (with one, it is written in brackets).
  } else {
    const colon = text.indexOf(':');
    if (colon >= 0) {
      host = text.slice(0, colon);
      port = parsePort(text.slice(colon + 1));
      if (port === undefined) return { ok: false, why: PORT_WHY };
      if (host === '') return { ok: false, why: 'an address or a host name comes before the ":"' };
    }
  }
  if (bracketed || host.includes(':')) {
    const bytes = parseIpv6(host);
    if (bytes === undefined) return { ok: false, why: 'an IPv6 address is eight groups of 1-4 hex digits separated by ":", one "::" for a run of zero groups (RFC 4291 2.2), written [ADDRESS]:PORT with a port' };
    const address = hold ? ADDRESSES6.intern(bytes, 0) : ADDRESSES6.lookup(bytes, 0);
    if (address < 0) return { ok: false, why: 'no entry names this IPv6 address' };
    return { ok: true, endpoint: port === undefined ? { kind: 'ipv6', address } : { kind: 'ipv6', address, port } };
  }
  if (/^[\d.]+$/.test(host)) {
    const address = parseIpv4(host);
    if (address === undefined) return { ok: false, why: 'an IPv4 address is four numbers 0-255 without leading zeros, separated by "."' };
    return { ok: true, endpoint: port === undefined ? { kind: 'ipv4', address } : { kind: 'ipv4', address, port } };
  }
  const why = hostNameFault(host);
  if (why !== undefined) return { ok: false, why };
  const name = normalizeName(host);
  return { ok: true, endpoint: port === undefined ? { kind: 'name', name } : { kind: 'name', name, port } };
}

const PORT_WHY = 'the port is a whole number from 1 to 65535, without leading zeros';

function parsePort(p: string): number | undefined {
  return /^[1-9]\d{0,4}$/.test(p) && Number(p) <= 65535 ? Number(p) : undefined;
}

/** Why `host` is not an RFC 1123 host name, or undefined when it is one. */
export function hostNameFault(host: string): string | undefined {
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name === '') return 'a host name has at least one label';
  // Only ASCII passes the label test below, so UTF-16 units are bytes here.
  if (name.length > NAME_MAX) return `a host name is at most ${NAME_MAX} bytes`;
  const labels = name.toLowerCase().split('.');
  for (const label of labels) {
    if (label === '') return 'a host name has no empty label';
    if (label.length > LABEL_MAX) return `a label of a host name is 1 to ${LABEL_MAX} bytes`;
    if (!LABEL.test(label)) return 'a host name uses letters, digits and "-" (not first or last in a label), labels separated by "."';
  }
  if (/^\d+$/.test(labels[labels.length - 1])) return 'the last label of a host name is not all digits';
  return undefined;
}

/** How names are compared: without case and without a trailing dot. */
export function normalizeName(name: string): string {
  return (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
}

/**
 * The canonical text of an endpoint; also its key: two endpoints are the same when their texts
 * are. An IPv6 address in RFC 5952's text, in brackets when a port follows.
 */
export function formatEndpoint(e: Endpoint): string {
  return withHostPort(formatHost(e), e.port);
}

/**
 * The address or name alone (an IPv6 address without brackets). An IPv4 text is never a valid
 * name (its last label is all digits), nor an IPv6 text (a name has no ":").
 */
export function formatHost(e: Endpoint): string {
  switch (e.kind) {
    case 'ipv4':
      return formatIpv4(e.address);
    case 'ipv6':
      return formatAddress(e.address);
    case 'name':
      return e.name;
  }
}

/** `host` (formatHost's text) with `port` after it, an IPv6 address then in brackets. */
export function withHostPort(host: string, port: number | undefined): string {
  if (port === undefined) return host;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `e` with `port`, for a destination whose diverted side keeps the original port. */
export function withPort(e: Endpoint, port: number): Destination {
  switch (e.kind) {
    case 'ipv4':
      return { kind: 'ipv4', address: e.address, port };
    case 'ipv6':
      return { kind: 'ipv6', address: e.address, port };
    case 'name':
      return { kind: 'name', name: e.name, port };
  }
}
