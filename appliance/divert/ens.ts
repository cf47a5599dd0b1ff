import { isV6 } from '../addr/address';
import { ADDRESSES6 } from '../addr/interner';
import {
  A_RECORD_LENGTH,
  AAAA_RECORD_LENGTH,
  CLASS_IN,
  DnsError,
  DnsOpt,
  DnsQuestion,
  DnsView,
  EDNS_DO,
  encodeA,
  encodeAaaa,
  encodeOpt,
  OPCODE_QUERY,
  OPT_LENGTH,
  POINTER_TO_QNAME,
  RCODE_BADVERS,
  TYPE_A,
  TYPE_AAAA,
  TYPE_ANY,
} from '../wire/dns';

/** What the name server asks of the diverted-address table: `DivertedAddresses` (table.ts) is one. */
export interface NameAddresses {
  /** The address (an address number, addr/address.ts: IPv4 or IPv6) a name-only entry diverts `name` to, else undefined. */
  nameAddress(name: string): number | undefined;
  /** Whether any entry names a host name: when none does, no query is even looked at. */
  readonly hasNames: boolean;
}

/**
 * The UDP payload size an answer's OPT advertises (RFC 6891 6.2.3, 6.2.5): 1232, the value of
 * DNS Flag Day 2020 that BIND, Unbound, Knot and PowerDNS default to, which fits an IPv6 minimum
 * MTU without fragments. Nothing the appliance sends comes near it.
 */
export const ENS_UDP_PAYLOAD = 1232;
/** RFC 2181 8: a TTL is 0 to 2^31 - 1 seconds. */
export const TTL_MAX = 0x7fffffff;

/** One count per `answer` call: every call adds to exactly one. */
export interface EnsCounters {
  /** Answered with the A or AAAA record of the diverted address. */
  answered: number;
  /** A query of the other family's type (AAAA for a name diverted to IPv4, A for one diverted to IPv6): NOERROR without an answer. */
  nodata: number;
  /** EDNS version above 0 for a diverted name: BADVERS. */
  badvers: number;
  /** Left for the server asked: not a plain query, not IN A/AAAA/ANY, a name not diverted, no room. */
  passed: number;
  /** Could not be read: short, a bad question, a bad OPT, bytes the counts do not account for. */
  malformed: number;
}

/**
 * The enhanced name server (network-management patent, figure 5, 509): answers a DNS query for
 * a host name that the diverted-address table diverts to an address with that address (an A
 * record for IPv4, AAAA for IPv6, RFC 3596), so that the client connects to the diverted host
 * itself; every other query goes on unchanged.
 *
 * `answer` writes the response over the query, in place: the header is rewritten, the question
 * stays where it is byte for byte (the client matches it against what it asked, RFC 1035 7.3;
 * resolvers that randomize the case of names, "DNS 0x20", compare the case too), the answer and
 * the OPT follow it. The caller swaps the IP addresses and ports and fixes the IP and UDP headers.
 *
 * Cost: header checks first, then a walk of the question that decodes nothing; the name is
 * made into a string (the one allocation) only for IN A, AAAA or ANY when the table has names.
 */
export class EnhancedNameServer {
  readonly counters: EnsCounters = { answered: 0, nodata: 0, badvers: 0, passed: 0, malformed: 0 };
  private readonly view = new DnsView();
  private readonly question = new DnsQuestion();
  private readonly opt = new DnsOpt();
  private seconds = 0;

  /** `ttl`: the answers' TTL in seconds, from the configuration (RangeError outside 0 to TTL_MAX). */
  constructor(private readonly names: NameAddresses, ttl: number) {
    this.ttl = ttl;
  }

  get ttl(): number {
    return this.seconds;
  }

  set ttl(v: number) {
    if (!Number.isInteger(v) || v < 0 || v > TTL_MAX) throw new RangeError(`a DNS TTL is a whole number of seconds from 0 to ${TTL_MAX}, not ${v}`);
    this.seconds = v;
  }

  /**
   * The response's length, written at buf[off] over the query of `len` bytes there (at most
   * `room` bytes: the space from `off` the caller can send), or -1 to pass the query unchanged
   * (the buffer untouched). Never throws.
   */
  answer(buf: Uint8Array, off: number, len: number, room: number): number {
    if (!this.names.hasNames) return this.pass();
    const v = this.view.wrap(buf, off, len);
    if (!v.valid) return this.malformed();
    // A standard query (RFC 1035 4.1.1, 4.3.1): one question, no records but one OPT (RFC 6891
    // 6.1.1). A truncated query (TC) is the start of one we have not seen whole. Anything else
    // is for the server asked: these are not read further, and so not judged malformed.
    if (v.qr || v.opcode !== OPCODE_QUERY || v.tc || v.qdcount !== 1 || v.ancount !== 0 || v.nscount !== 0 || v.arcount > 1) return this.pass();
    const q = this.question;
    if (v.readQuestion(q) !== DnsError.None) return this.malformed();
    const opt = this.opt;
    let edns = false;
    let end = q.end;
    if (v.arcount === 1) {
      const e = v.readOpt(opt, q.end);
      // Another record (TSIG, SIG(0)): a signed query we cannot answer.
      if (e === DnsError.NotOpt) return this.pass();
      if (e !== DnsError.None) return this.malformed();
      edns = true;
      end = opt.end;
    }
    // Counts that lie the other way: bytes after the last record the header announces.
    if (end !== v.end) return this.malformed();
    // ANY gets the diverted address's record alone: RFC 8482 4.1 lets a responder answer ANY
    // with one RRset of the name, and passing it would let the server asked give the original
    // addresses.
    if (q.class !== CLASS_IN || (q.type !== TYPE_A && q.type !== TYPE_AAAA && q.type !== TYPE_ANY)) return this.pass();
    const address = this.names.nameAddress(v.name(q));
    if (address === undefined) return this.pass();

    // RFC 6891 6.1.3: a version we do not implement gets BADVERS, with our own version, 0.
    const badvers = edns && opt.version > 0;
    // The other family's type (AAAA for an IPv4 address, A for an IPv6 one): NOERROR and no
    // answer (NODATA), so that the client does not reach the original over the other family.
    // Without an SOA in the authority section it is not cached (RFC 2308 5).
    const v6 = isV6(address);
    const withAnswer = !badvers && q.type !== (v6 ? TYPE_A : TYPE_AAAA);
    const record = v6 ? AAAA_RECORD_LENGTH : A_RECORD_LENGTH;
    // At most 12 + 255 + 4 + 28 + 11 = 310 bytes: within 512 (RFC 1035 4.2.1) and so within any
    // EDNS payload size, which is at least 512 (RFC 6891 6.2.3). Only `room` can be short.
    const length = q.end - off + (withAnswer ? record : 0) + (edns ? OPT_LENGTH : 0);
    if (length > room) return this.pass();

    // Same ID and opcode (0); AA: the appliance is authoritative for what it diverts; RD copied
    // (RFC 1035 4.1.1) and RA = RD: it answers in the stead of the server asked, which the
    // client expected to recurse if it asked it to; CD copied (RFC 4035 3.1.6); AD clear: no
    // DNSSEC validation vouches for the address; Z clear.
    const rd = v.rd;
    const cd = v.cd;
    v.flags = 0;
    v.qr = true;
    v.aa = true;
    v.rd = rd;
    v.ra = rd;
    v.cd = cd;
    v.rcode = badvers ? RCODE_BADVERS & 0x0f : 0;
    v.ancount = withAnswer ? 1 : 0;
    v.arcount = edns ? 1 : 0;
    let at = q.end;
    if (withAnswer && v6) at += encodeAaaa(buf, at, POINTER_TO_QNAME, this.seconds, ADDRESSES6.bytes, ADDRESSES6.offset(address));
    else if (withAnswer) at += encodeA(buf, at, POINTER_TO_QNAME, this.seconds, address);
    // The OPT: our payload size, the upper RCODE bits, version 0, no options, and the query's DO
    // bit copied, as RFC 3225 3 requires and BIND and Unbound do; the answer carries no RRSIG
    // all the same (there is none to give).
    if (edns) at += encodeOpt(buf, at, ENS_UDP_PAYLOAD, badvers ? RCODE_BADVERS >> 4 : 0, 0, opt.flags & EDNS_DO);

    if (badvers) this.counters.badvers++;
    else if (withAnswer) this.counters.answered++;
    else this.counters.nodata++;
    return at - off;
  }

  private pass(): number {
    this.counters.passed++;
    return -1;
  }

  private malformed(): number {
    this.counters.malformed++;
    return -1;
  }
}
