import type { ServerRecord } from '../config/tables';
import { ATYP_IPV4, ATYP_IPV6, ATYP_NAME, METHOD_NONE, METHOD_USERPASS, type SocksParse } from './socks';

/**
 * The server leg's dialect: the appliance answers the client in the client's SOCKS dialect and
 * speaks to each server in one that server knows, so any client reaches any server that can
 * express its request (a SOCKS4a name through a SOCKS5-only Dante, say). The bytes for the
 * server are composed here from the parsed request, and the server's reply is translated
 * back into the client's dialect. Pure functions over caller's buffers, byte-level tested.
 */

/** Dialects as bits, for masks of what a server speaks and what can carry a request. */
export const D4 = 1;
export const D4A = 2;
export const D5 = 4;
export type Dialect = typeof D4 | typeof D4A | typeof D5;
export const DIALECT_NAMES: Record<Dialect, string> = { [D4]: '4', [D4A]: '4a', [D5]: '5' };

/**
 * What a server takes, from its `versions`: a SOCKS4a server takes plain SOCKS4 too; one the
 * appliance authenticates to (RFC 1929) is spoken to in SOCKS5 only.
 */
export function speaks(s: ServerRecord): number {
  let m = 0;
  if (s.versions.includes('4')) m |= D4;
  if (s.versions.includes('4a')) m |= D4 | D4A;
  if (s.versions.includes('5')) m |= D5;
  return s.credentials ? m & D5 : m;
}

/** The client's own dialect: SOCKS4 with an address, SOCKS4a with a name, or SOCKS5. */
export function clientDialect(p: SocksParse): Dialect {
  return p.version === 5 ? D5 : p.atyp === ATYP_NAME ? D4A : D4;
}

/**
 * The server dialects that can carry a request: SOCKS4 takes only IPv4 destinations, SOCKS4a
 * IPv4 or a name, SOCKS5 all three (RFC 1928 ATYP 1, 3, 4).
 */
export function carriers(p: SocksParse): number {
  if (p.atyp === ATYP_IPV4) return D4 | D4A | D5;
  if (p.atyp === ATYP_NAME) return D4A | D5;
  return D5;
}

/**
 * The dialect to speak to a server whose mask is `speaks` for request `p`: the client's own
 * (`own`, by default the request's) if it can, else SOCKS5, else 4a, else 4.
 */
export function legDialect(p: SocksParse, speaks: number, own: Dialect = clientDialect(p)): Dialect | 0 {
  const can = carriers(p) & speaks;
  if (can & own) return own;
  if (can & D5) return D5;
  if (can & D4A) return D4A;
  if (can & D4) return D4;
  return 0;
}

/** What the server leg sends, in phases; offsets into the caller's buffer. */
export interface Composed {
  /** SOCKS5: end of the greeting, of the RFC 1929 sub-negotiation (= greetingEnd when none). */
  greetingEnd: number;
  authEnd: number;
  requestEnd: number;
  /** SOCKS5: the method offered, which the server's answer must name. */
  method: number;
}

/** RFC 1929 credentials the server leg sends: the appliance's own, or the client's passed through. */
export interface Credentials {
  username: Uint8Array;
  password: Uint8Array;
}

/**
 * Writes the server leg's handshake for `dialect` into `out` from the client's request
 * (`client`, parsed as `p`): for SOCKS5 the greeting, the sub-negotiation when `credentials`
 * are given, then the CONNECT; for SOCKS4/4a the request. The client's own bytes are copied
 * where the dialect is the client's and no credentials change them, so what the server sees is
 * what the client sent.
 */
export function compose(dialect: Dialect, client: Uint8Array, p: SocksParse, credentials: Credentials | undefined, out: Buffer, r: Composed): void {
  let n = 0;
  r.method = -1;
  if (dialect === D5) {
    r.method = credentials ? METHOD_USERPASS : METHOD_NONE;
    out[n++] = 5;
    out[n++] = 1;
    out[n++] = r.method;
    r.greetingEnd = n;
    if (credentials) {
      out[n++] = 1; // RFC 1929's own version
      out[n++] = credentials.username.length;
      out.set(credentials.username, n);
      n += credentials.username.length;
      out[n++] = credentials.password.length;
      out.set(credentials.password, n);
      n += credentials.password.length;
    }
    r.authEnd = n;
    if (p.version === 5) {
      out.set(client.subarray(p.authEnd, p.requestEnd), n);
      n += p.requestEnd - p.authEnd;
    } else {
      out[n++] = 5;
      out[n++] = 1; // CONNECT
      out[n++] = 0;
      if (p.atyp === ATYP_NAME) {
        out[n++] = ATYP_NAME;
        out[n++] = p.hostLength;
        out.set(client.subarray(p.hostOffset, p.hostOffset + p.hostLength), n);
        n += p.hostLength;
      } else {
        out[n++] = ATYP_IPV4;
        out.writeUInt32BE(p.ipv4, n);
        n += 4;
      }
      out.writeUInt16BE(p.port, n);
      n += 2;
    }
    r.requestEnd = n;
    return;
  }
  r.greetingEnd = 0;
  r.authEnd = 0;
  if (p.version === 4) {
    // SOCKS4 or 4a to a server that speaks it: the client's request as it came.
    out.set(client.subarray(0, p.requestEnd), 0);
    r.requestEnd = p.requestEnd;
    return;
  }
  // SOCKS5 to SOCKS4 (an IPv4 destination) or 4a (a name): VN CD DSTPORT DSTIP USERID(empty) NUL [HOST NUL].
  out[n++] = 4;
  out[n++] = 1;
  out.writeUInt16BE(p.port, n);
  n += 2;
  out.writeUInt32BE(p.atyp === ATYP_NAME ? 1 : p.ipv4, n); // 0.0.0.1: SOCKS4a's "a name follows"
  n += 4;
  out[n++] = 0;
  if (p.atyp === ATYP_NAME) {
    out.set(client.subarray(p.hostOffset, p.hostOffset + p.hostLength), n);
    n += p.hostLength;
    out[n++] = 0;
  }
  r.requestEnd = n;
}

/** How many bytes `compose` writes for these arguments (dns-packet's encodingLength). */
export function composedLength(dialect: Dialect, p: SocksParse, credentials: Credentials | undefined): number {
  const name = p.atyp === ATYP_NAME;
  if (dialect === D5) {
    const auth = credentials ? 3 + credentials.username.length + credentials.password.length : 0;
    const request = p.version === 5 ? p.requestEnd - p.authEnd : 4 + (name ? 1 + p.hostLength : 4) + 2;
    return 3 + auth + request;
  }
  return p.version === 4 ? p.requestEnd : 9 + (name ? p.hostLength + 1 : 0);
}

/**
 * How many bytes of `b` the server's reply to the CONNECT takes, once complete: 8 for SOCKS4,
 * 4 + address + 2 for SOCKS5; 0 while more are needed, -1 when it is not a reply at all.
 */
export function replyLength(dialect: Dialect, b: Uint8Array, off: number, len: number): number {
  if (dialect !== D5) {
    if (len < 8) return 0;
    return b[off] === 0 || b[off] === 4 ? 8 : -1; // VN is 0; some servers echo 4
  }
  if (len < 5) return 0;
  if (b[off] !== 5) return -1;
  const atyp = b[off + 3];
  const need = atyp === ATYP_IPV4 ? 10 : atyp === ATYP_IPV6 ? 22 : atyp === ATYP_NAME ? 7 + b[off + 4] : -1;
  if (need < 0) return -1;
  return len >= need ? need : 0;
}

/** SOCKS4 reply codes (CD). */
const SOCKS4_GRANTED = 90;
export const SOCKS4_REJECTED = 91;

/**
 * SOCKS5 REP -> SOCKS4 CD: succeeded is granted, anything else "rejected or failed" (91),
 * the only SOCKS4 code that does not speak of identd.
 */
export function socks4Code(rep: number): number {
  return rep === 0 ? SOCKS4_GRANTED : SOCKS4_REJECTED;
}

/**
 * SOCKS4 CD -> SOCKS5 REP: granted is succeeded; 92 and 93 (identd) refuse by the server's
 * rules, "not allowed by ruleset" (2); 91 and anything else is a general failure (1).
 */
export function socks5Code(cd: number): number {
  if (cd === SOCKS4_GRANTED) return 0;
  if (cd === 92 || cd === 93) return 2;
  return 1;
}

/**
 * Writes, at out[0], the client's reply in `client` dialect from the server's `reply` (of
 * `length` bytes, in `leg` dialect); returns its length. Same dialect: the server's bytes.
 * SOCKS5 to a SOCKS4 client: its code mapped, BND.PORT and an IPv4 BND.ADDR kept (else
 * 0.0.0.0). SOCKS4 to a SOCKS5 client: ATYP 1 with the SOCKS4 reply's port and address.
 */
export function translateReply(leg: Dialect, client: Dialect, reply: Uint8Array, length: number, out: Buffer): number {
  const leg4 = leg !== D5;
  const client4 = client !== D5;
  if (leg4 === client4) {
    out.set(reply.subarray(0, length), 0);
    return length;
  }
  if (client4) {
    out.fill(0, 0, 8);
    out[1] = socks4Code(reply[1]);
    const atyp = reply[3];
    const portAt = length - 2;
    out[2] = reply[portAt];
    out[3] = reply[portAt + 1];
    if (atyp === ATYP_IPV4) out.set(reply.subarray(4, 8), 4);
    return 8;
  }
  out[0] = 5;
  out[1] = socks5Code(reply[1]);
  out[2] = 0;
  out[3] = ATYP_IPV4;
  out.set(reply.subarray(4, 8), 4);
  out[8] = reply[2];
  out[9] = reply[3];
  return 10;
}
