import { formatEndpoint, normalizeName, parseEndpoint, withPort, type Destination, type DivertedEntry, type Endpoint } from './endpoint';
import { describeFault, findFaults } from './rules';

/** What `add` did, or why it refused. */
export type AddResult =
  | { ok: true; entry: DivertedEntry; /** The entry it replaced (same original), if any. */ replaced?: DivertedEntry }
  | { ok: false; message: string };

/**
 * The live diverted-address table (patent figure 2b, table 209): for the destination a SOCKS
 * CONNECT names, the address the connection goes to instead.
 *
 * Matching: an entry for the destination's address and port (or name and port) beats one for
 * the address (or name) alone. Names are compared without case and without a trailing dot; a
 * name never matches an address (nothing is resolved here). One entry applies: the result is
 * not looked up again. When the diverted side has no port the destination's port is kept.
 *
 * The table keeps the rules of `findFaults` (no entry diverting to itself, no cycle): the
 * constructor throws on a table that breaks them, `add` refuses a change that would.
 *
 * Cost: an address lookup (either family: address numbers, addr/address.ts) is two probes of
 * an open-addressing hash over typed arrays and allocates nothing; a name lookup normalizes the
 * name (one string, per connection). `add` and `remove`
 * rebuild the indexes, O(entries): they are the operator's, not the data path's.
 */
export class DivertedAddresses {
  private rows: DivertedEntry[] = [];
  /** Canonical text of an original -> its row. */
  private byOriginal = new Map<string, number>();
  private addresses = new AddressIndex([]);
  /** name -> its name-only entry's diverted side, and its name:port entries'. */
  private names = new Map<string, { any: Endpoint | undefined; ports: Map<number, Endpoint> }>();
  /** Counts the changes: readers that cache something derived (server diversion) compare it. */
  version = 0;

  /** Throws an Error naming the fault when `entries` hold a bad endpoint, repeat an original, divert to themselves or make a cycle. */
  constructor(entries: Iterable<DivertedEntry> = []) {
    const rows = [...entries].map((e) => {
      const original = toEndpoint(e.original, 'original');
      const diverted = toEndpoint(e.diverted, 'diverted');
      if (typeof original === 'string' || typeof diverted === 'string') throw new Error(`diverted addresses: ${typeof original === 'string' ? original : diverted}`);
      return freeze({ original, diverted });
    });
    const seen = new Set<string>();
    for (const r of rows) {
      const k = formatEndpoint(r.original);
      if (seen.has(k)) throw new Error(`diverted addresses: ${k} has two entries`);
      seen.add(k);
    }
    const fault = findFaults(rows)[0];
    if (fault) throw new Error(`diverted addresses: ${describeFault(fault, rows)}`);
    this.install(rows);
  }

  get size(): number {
    return this.rows.length;
  }

  /** The entries, in table order: as read from diverted.ini, then as added. */
  entries(): readonly DivertedEntry[] {
    return this.rows;
  }

  /**
   * The diverted side of the entry that matches `dest`, or undefined when none does. The
   * endpoint returned is the entry's own: `port` undefined means "keep dest's port"
   * (`divert` gives the complete destination). For an address prefer `lookupAddress`, which
   * needs no destination object.
   */
  lookup(dest: Destination): Endpoint | undefined {
    switch (dest.kind) {
      case 'ipv4':
      case 'ipv6':
        return this.lookupAddress(dest.address, dest.port);
      case 'name':
        return this.lookupName(dest.name, dest.port);
    }
  }

  /**
   * `lookup` for an address number of either family: allocates nothing. An IPv6 address no
   * entry names may not be interned at all: -1 (Ipv6Datagram's src/dst then) matches nothing.
   */
  lookupAddress(address: number, port: number): Endpoint | undefined {
    const i = this.addresses.get(address, port);
    return i >= 0 ? this.rows[i].diverted : undefined;
  }

  /** `lookup` for a host name (any case, trailing dot or not). */
  lookupName(name: string, port: number): Endpoint | undefined {
    if (this.names.size === 0) return undefined;
    const row = this.names.get(normalizeName(name));
    if (!row) return undefined;
    return row.ports.get(port) ?? row.any;
  }

  /**
   * For the enhanced name server (figure 5): the address (number, either family) that a
   * name-only entry diverts `name` to, or undefined (no entry, an entry for one port only, or
   * one diverting to a name: no A or AAAA record can say those).
   */
  nameAddress(name: string): number | undefined {
    if (this.names.size === 0) return undefined;
    const to = this.names.get(normalizeName(name))?.any;
    return to !== undefined && to.kind !== 'name' ? to.address : undefined;
  }

  /** Whether any entry names a host name (else no DNS query needs examining). */
  get hasNames(): boolean {
    return this.names.size > 0;
  }

  /** Where a connection to `dest` goes: the diverted side with its port, or undefined (not diverted). */
  divert(dest: Destination): Destination | undefined {
    const to = this.lookup(dest);
    if (to === undefined) return undefined;
    return withPort(to, to.port ?? dest.port);
  }

  /** The entry whose original is exactly `original` (not a match: `lookup` does that). */
  get(original: Endpoint | string): DivertedEntry | undefined {
    const k = canonical(original);
    const i = k === undefined ? undefined : this.byOriginal.get(k);
    return i === undefined ? undefined : this.rows[i];
  }

  /**
   * Diverts `original` to `diverted` (texts as in diverted.ini, or endpoints). An entry with the
   * same original is replaced in its place; a new one goes last. Refused, with the reason and
   * the table unchanged: a text that is not an endpoint, an entry diverting to itself, a change
   * that would make a cycle.
   */
  add(original: Endpoint | string, diverted: Endpoint | string): AddResult {
    const o = toEndpoint(original, 'original');
    if (typeof o === 'string') return { ok: false, message: o };
    const d = toEndpoint(diverted, 'diverted');
    if (typeof d === 'string') return { ok: false, message: d };
    const entry = freeze({ original: o, diverted: d });
    const at = this.byOriginal.get(formatEndpoint(o));
    const rows = this.rows.slice();
    if (at === undefined) rows.push(entry);
    else rows[at] = entry;
    const faults = findFaults(rows);
    // Faults are about the new entry: the table had none. Report the self-diversion first.
    const fault = faults.find((f) => f.kind === 'self') ?? faults[0];
    if (fault) {
      return { ok: false, message: fault.kind === 'self' ? `${formatEndpoint(o)} = ${formatEndpoint(d)}: an entry may not divert to itself` : `${formatEndpoint(o)} = ${formatEndpoint(d)} would make ${describeFault(fault, rows)}` };
    }
    const replaced = at === undefined ? undefined : this.rows[at];
    this.install(rows);
    return replaced === undefined ? { ok: true, entry } : { ok: true, entry, replaced };
  }

  /** Removes the entry whose original is exactly `original`; returns it, or undefined when there was none. */
  remove(original: Endpoint | string): DivertedEntry | undefined {
    const k = canonical(original);
    const at = k === undefined ? undefined : this.byOriginal.get(k);
    if (at === undefined) return undefined;
    const removed = this.rows[at];
    this.install(this.rows.filter((_, i) => i !== at));
    return removed;
  }

  private install(rows: DivertedEntry[]): void {
    this.version++;
    this.rows = rows;
    this.byOriginal = new Map(rows.map((r, i) => [formatEndpoint(r.original), i]));
    const keys: [number, number, number][] = [];
    const names = new Map<string, { any: Endpoint | undefined; ports: Map<number, Endpoint> }>();
    rows.forEach((r, i) => {
      const o = r.original;
      switch (o.kind) {
        case 'ipv4':
        case 'ipv6':
          keys.push([o.address, o.port ?? ANY_PORT, i]);
          break;
        case 'name': {
          let row = names.get(o.name);
          if (!row) names.set(o.name, (row = { any: undefined, ports: new Map() }));
          if (o.port === undefined) row.any = r.diverted;
          else row.ports.set(o.port, r.diverted);
          break;
        }
      }
    });
    this.addresses = new AddressIndex(keys);
    this.names = names;
  }
}

/** `e` checked and normalized (an endpoint given as an object is checked as its text would be), or why not. */
function toEndpoint(e: Endpoint | string, side: string): Endpoint | string {
  const p = parseEndpoint(typeof e === 'string' ? e.trim() : formatEndpoint(e));
  return p.ok ? p.endpoint : `the ${side} side is not an address, address:port, host name or host name:port: ${p.why}`;
}

function canonical(e: Endpoint | string): string | undefined {
  const p = toEndpoint(e, 'original');
  return typeof p === 'string' ? undefined : formatEndpoint(p);
}

function freeze(e: DivertedEntry): DivertedEntry {
  return Object.freeze({ original: Object.freeze({ ...e.original }), diverted: Object.freeze({ ...e.diverted }) });
}

/** Port 0 is no TCP port: the key of an address-only entry. */
const ANY_PORT = 0;

/**
 * (address number, port) -> row index, an open-addressing hash over typed arrays so that a
 * lookup allocates nothing. Port ANY_PORT keys an address-only entry; `get` tries the exact key
 * first. Float64Array holds either family's numbers (IPv6 ones lie above 2^32); the hash takes
 * their low 32 bits, which tell IPv6 numbers apart as well.
 */
class AddressIndex {
  private readonly addresses: Float64Array;
  private readonly ports: Uint32Array;
  /** Row index + 1; 0 is an empty slot. */
  private readonly values: Int32Array;
  private readonly mask: number;
  private readonly hasAny: boolean;
  private readonly hasExact: boolean;

  constructor(keys: readonly [address: number, port: number, row: number][]) {
    let size = 8;
    while (size < keys.length * 2) size *= 2;
    this.addresses = new Float64Array(size);
    this.ports = new Uint32Array(size);
    this.values = new Int32Array(size);
    this.mask = size - 1;
    this.hasAny = keys.some((k) => k[1] === ANY_PORT);
    this.hasExact = keys.some((k) => k[1] !== ANY_PORT);
    for (const [address, port, row] of keys) {
      let i = this.slot(address, port);
      while (this.values[i] !== 0) i = (i + 1) & this.mask;
      this.addresses[i] = address;
      this.ports[i] = port;
      this.values[i] = row + 1;
    }
  }

  /** The row for (address, port), else for (address, any port), else -1. */
  get(address: number, port: number): number {
    if (this.hasExact) {
      const r = this.find(address, port);
      if (r >= 0) return r;
    }
    return this.hasAny ? this.find(address, ANY_PORT) : -1;
  }

  private find(address: number, port: number): number {
    let i = this.slot(address, port);
    for (;;) {
      const v = this.values[i];
      if (v === 0) return -1;
      if (this.addresses[i] === address && this.ports[i] === port) return v - 1;
      i = (i + 1) & this.mask;
    }
  }

  private slot(address: number, port: number): number {
    let h = Math.imul(address ^ Math.imul(port, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 15;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 13;
    return h & this.mask;
  }
}
