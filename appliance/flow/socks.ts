import { formatIpv6 } from '../config/address';
/**
 * The client's side of the SOCKS handshake, reassembled (RFC 1928, RFC 1929, SOCKS4 and 4a).
 * `parseSocks` reads the bytes a client has sent so far, from the start, and says how far the
 * handshake has come. Re-reading from the start keeps it stateless; the bytes are at most a
 * few hundred, so even one byte per segment costs little.
 */

import { decodeUtf8, printable } from '../text/printable';

export const enum SocksStatus {
  NeedMore = 0,
  /** SOCKS5 greeting complete (and auth, if any), request not yet. */
  Negotiating = 1,
  Complete = 2,
  Invalid = 3,
}

export const CMD_CONNECT = 1;
export const METHOD_NONE = 0x00;
export const METHOD_USERPASS = 0x02;
export const METHOD_REFUSED = 0xff;
export const ATYP_IPV4 = 1;
export const ATYP_NAME = 3;
export const ATYP_IPV6 = 4;

/** The longest handshake worth waiting for: greeting, user/password, request at their limits. */
export const SOCKS_MAX_HANDSHAKE = 2 + 255 + 3 + 255 + 255 + 7 + 255 + 1 + 255;

export class SocksParse {
  status = SocksStatus.NeedMore;
  version = 0;
  /** SOCKS5: the method the appliance answers the greeting with. */
  method = METHOD_REFUSED;
  greetingEnd = 0;
  /** End of the user/password sub-negotiation, or greetingEnd when there is none. */
  authEnd = 0;
  requestEnd = 0;
  command = 0;
  /** SOCKS5 ATYP, or ATYP_IPV4 / ATYP_NAME for SOCKS4 / 4a. */
  atyp = 0;
  port = 0;
  ipv4 = 0;
  /** Where the host name or IPv6 address is in the bytes, for display. */
  hostOffset = 0;
  hostLength = 0;

  reset(): void {
    this.status = SocksStatus.NeedMore;
    this.version = 0;
    this.method = METHOD_REFUSED;
    this.greetingEnd = 0;
    this.authEnd = 0;
    this.requestEnd = 0;
    this.command = 0;
    this.atyp = 0;
    this.port = 0;
    this.ipv4 = 0;
    this.hostOffset = 0;
    this.hostLength = 0;
  }
}

function invalid(out: SocksParse): SocksParse {
  out.status = SocksStatus.Invalid;
  return out;
}

function indexOfNul(b: Uint8Array, from: number, end: number): number {
  for (let i = from; i < end; i++) if (b[i] === 0) return i;
  return -1;
}

export function parseSocks(b: Uint8Array, off: number, len: number, out: SocksParse): SocksParse {
  out.reset();
  if (len < 1) return out;
  out.version = b[off];
  if (out.version === 4) return parseSocks4(b, off, len, out);
  if (out.version === 5) return parseSocks5(b, off, len, out);
  return invalid(out);
}

/** VN CD DSTPORT(2) DSTIP(4) USERID NUL, and for 4a (DSTIP 0.0.0.x, x != 0) HOSTNAME NUL. */
function parseSocks4(b: Uint8Array, off: number, len: number, out: SocksParse): SocksParse {
  const end = off + len;
  if (len < 9) return out;
  out.command = b[off + 1];
  out.port = (b[off + 2] << 8) | b[off + 3];
  out.ipv4 = ((b[off + 4] << 24) | (b[off + 5] << 16) | (b[off + 6] << 8) | b[off + 7]) >>> 0;
  const userEnd = indexOfNul(b, off + 8, Math.min(end, off + 8 + 256));
  // No NUL in 256 bytes: a user id longer than 255 bytes, refused; fewer bytes: wait for more.
  if (userEnd < 0) return len >= 8 + 256 ? invalid(out) : out;
  out.atyp = ATYP_IPV4;
  let requestEnd = userEnd + 1;
  if (out.ipv4 !== 0 && out.ipv4 < 256) {
    const hostEnd = indexOfNul(b, requestEnd, Math.min(end, requestEnd + 256));
    // The same for the host name of SOCKS4a.
    if (hostEnd < 0) return end - requestEnd >= 256 ? invalid(out) : out;
    out.atyp = ATYP_NAME;
    out.hostOffset = requestEnd - off;
    out.hostLength = hostEnd - requestEnd;
    requestEnd = hostEnd + 1;
  }
  out.greetingEnd = 0;
  out.authEnd = 0;
  out.requestEnd = requestEnd - off;
  out.status = SocksStatus.Complete;
  return out;
}

/** Greeting [5 NMETHODS METHODS], optional RFC 1929 [1 ULEN USER PLEN PASS], request [5 CMD 0 ATYP ADDR PORT]. */
function parseSocks5(b: Uint8Array, off: number, len: number, out: SocksParse): SocksParse {
  if (len < 2) return out;
  const nMethods = b[off + 1];
  if (nMethods === 0) return invalid(out);
  if (len < 2 + nMethods) return out;
  let none = false;
  let userPass = false;
  for (let i = 0; i < nMethods; i++) {
    const m = b[off + 2 + i];
    if (m === METHOD_NONE) none = true;
    else if (m === METHOD_USERPASS) userPass = true;
  }
  out.method = none ? METHOD_NONE : userPass ? METHOD_USERPASS : METHOD_REFUSED;
  out.greetingEnd = 2 + nMethods;
  out.authEnd = out.greetingEnd;
  out.status = SocksStatus.Negotiating;
  if (out.method === METHOD_REFUSED) return out;

  let p = out.greetingEnd;
  if (out.method === METHOD_USERPASS) {
    if (len < p + 2) return out;
    // The sub-negotiation's own version, 1 (RFC 1929).
    if (b[off + p] !== 1) return invalid(out);
    const ulen = b[off + p + 1];
    if (len < p + 2 + ulen + 1) return out;
    const plen = b[off + p + 2 + ulen];
    if (len < p + 3 + ulen + plen) return out;
    p += 3 + ulen + plen;
    out.authEnd = p;
  }

  if (len < p + 4) return out;
  if (b[off + p] !== 5) return invalid(out);
  out.command = b[off + p + 1];
  out.atyp = b[off + p + 3];
  let addrEnd: number;
  if (out.atyp === ATYP_IPV4) {
    addrEnd = p + 8;
    if (len >= addrEnd) out.ipv4 = ((b[off + p + 4] << 24) | (b[off + p + 5] << 16) | (b[off + p + 6] << 8) | b[off + p + 7]) >>> 0;
  } else if (out.atyp === ATYP_NAME) {
    if (len < p + 5) return out;
    out.hostOffset = p + 5;
    out.hostLength = b[off + p + 4];
    if (out.hostLength === 0) return invalid(out);
    addrEnd = p + 5 + out.hostLength;
  } else if (out.atyp === ATYP_IPV6) {
    out.hostOffset = p + 4;
    out.hostLength = 16;
    addrEnd = p + 20;
  } else {
    return invalid(out);
  }
  if (len < addrEnd + 2) return out;
  out.port = (b[off + addrEnd] << 8) | b[off + addrEnd + 1];
  out.requestEnd = addrEnd + 2;
  out.status = SocksStatus.Complete;
  return out;
}

/**
 * The destination a request asked for, as people read it (per connection, not per packet). A
 * host name is the client's bytes: it is shown escaped (text/printable), whole, so that `ctl`
 * and the dashboard never put a client's control bytes on the operator's terminal.
 */
export function describeDestination(b: Uint8Array, off: number, p: SocksParse): string {
  if (p.atyp === ATYP_NAME) return printable(decodeUtf8(b.subarray(off + p.hostOffset, off + p.hostOffset + p.hostLength)), Infinity);
  // RFC 5952's text, in brackets since a port follows.
  if (p.atyp === ATYP_IPV6) return `[${formatIpv6(b, off + p.hostOffset)}]`;
  const a = p.ipv4;
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

// Replies the appliance gives in the server's stead.
const SOCKS4_REJECTED = 91;
export const SOCKS5_GENERAL_FAILURE = 1;
export const SOCKS5_HOST_UNREACHABLE = 4;
export const SOCKS5_COMMAND_NOT_SUPPORTED = 7;

/** Writes the failure reply for `version` at b[off]; returns its length. */
export function writeFailureReply(version: number, code: number, b: Uint8Array, off: number): number {
  if (version === 4) {
    b.fill(0, off, off + 8);
    b[off + 1] = SOCKS4_REJECTED;
    return 8;
  }
  b.fill(0, off, off + 10);
  b[off] = 5;
  b[off + 1] = code;
  b[off + 3] = ATYP_IPV4;
  return 10;
}
