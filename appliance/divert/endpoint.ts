import { formatIpv4, parseIpv4 } from '../config/address';
import { LABEL_MAX } from '../wire/dns';

/**
 * One side of a diverted-address entry (patent figure 2b, table 209): an address with a port,
 * an address for every port, or a host name with or without a port. Address-family neutral:
 * an `ipv6` kind (a 16-byte address, written `[2001:db8::1]:80`) is meant to join the union
 * later; nothing here assumes there are only two kinds beyond the switches that name them.
 *
 * `port` absent: every port (as an original), or the original port kept (as a diverted side).
 * `name` is held normalized: lower case, without a trailing dot, so that one name has one key.
 */
export type Endpoint =
  | { readonly kind: 'ipv4'; readonly address: number; readonly port?: number }
  | { readonly kind: 'name'; readonly name: string; readonly port?: number };

/** What a SOCKS CONNECT names: an IPv4 address or a host name, always with its port. */
export type Destination =
  | { readonly kind: 'ipv4'; readonly address: number; readonly port: number }
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
 * `203.0.113.80:8080`, `203.0.113.80`, `web.socksalp.test:80` or `web.socksalp.test`
 * (a trailing dot and any case are accepted; the name is kept normalized). Strict: no leading
 * zeros in an address or a port, ports 1-65535, RFC 1123 host names whose last label is not
 * all digits (so that a mistyped address such as 203.0.113.800 is not taken for a name).
 */
export function parseEndpoint(text: string): Parsed {
  if (text === '') return { ok: false, why: 'it is empty' };
  if (text.startsWith('[') || text.indexOf(':') !== text.lastIndexOf(':')) {
    return { ok: false, why: 'IPv6 addresses are not supported yet' };
  }
  let host = text;
  let port: number | undefined;
  const colon = text.indexOf(':');
  if (colon >= 0) {
    host = text.slice(0, colon);
    const p = text.slice(colon + 1);
    if (!/^[1-9]\d{0,4}$/.test(p) || Number(p) > 65535) return { ok: false, why: 'the port is a whole number from 1 to 65535, without leading zeros' };
    port = Number(p);
    if (host === '') return { ok: false, why: 'an address or a host name comes before the ":"' };
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

/** The canonical text of an endpoint; also its key: two endpoints are the same when their texts are. */
export function formatEndpoint(e: Endpoint): string {
  const host = formatHost(e);
  return e.port === undefined ? host : `${host}:${e.port}`;
}

/** The address or name alone. An IPv4 text is never a valid name (its last label is all digits). */
export function formatHost(e: Endpoint): string {
  switch (e.kind) {
    case 'ipv4':
      return formatIpv4(e.address);
    case 'name':
      return e.name;
  }
}

/** `e` with `port`, for a destination whose diverted side keeps the original port. */
export function withPort(e: Endpoint, port: number): Destination {
  switch (e.kind) {
    case 'ipv4':
      return { kind: 'ipv4', address: e.address, port };
    case 'name':
      return { kind: 'name', name: e.name, port };
  }
}
