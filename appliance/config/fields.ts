import { parseAddress } from '../addr/address';
import type { IniFile, Section } from './ini-file';
import type { Problem } from './problem';
import { quote } from '../text/printable';
import { parseIpv4, parseMac } from './address';

/**
 * Typed access to one section. Every getter records the key as known, so that `done()` can
 * report the keys nobody asked for: a misspelt key is an error, never silently ignored.
 * A getter that finds a bad value reports it and returns the default (or undefined), so one
 * pass collects every problem in the file.
 */
export class SectionReader {
  private readonly known = new Set<string>();

  constructor(readonly file: IniFile, readonly section: Section, private readonly problems: Problem[]) {}

  get name(): string {
    return this.section.name;
  }

  problem(key: string | undefined, message: string): void {
    // A section absent from the file has line 0: the message then names no line.
    const line = (key === undefined ? undefined : this.section.entries.get(key)?.line) ?? this.section.line;
    this.problems.push({ file: this.file.name, line: line > 0 ? line : undefined, section: this.section.name, key, message });
  }

  has(key: string): boolean {
    return this.section.entries.has(key);
  }

  /** The raw text of a key, or undefined when absent (reported when required). */
  raw(key: string, required: boolean): string | undefined {
    this.known.add(key);
    const e = this.section.entries.get(key);
    if (e === undefined || e.value === '') {
      if (required) this.problem(key, e === undefined ? 'required key is missing' : 'value is empty');
      return undefined;
    }
    return e.value;
  }

  int(key: string, min: number, max: number, fallback?: number): number | undefined {
    const v = this.raw(key, fallback === undefined);
    if (v === undefined) return fallback;
    if (!/^-?\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      this.problem(key, `expected a whole number from ${min} to ${max}, got ${quote(v)}`);
      return fallback;
    }
    return Number(v);
  }

  port(key: string, fallback?: number): number | undefined {
    return this.int(key, 1, 65535, fallback);
  }

  /** yes/no; required when no fallback is given. */
  bool(key: string, fallback?: boolean): boolean {
    const v = this.raw(key, fallback === undefined);
    if (v === undefined) return fallback ?? false;
    const l = v.toLowerCase();
    if (l === 'yes' || l === 'true' || l === 'on') return true;
    if (l === 'no' || l === 'false' || l === 'off') return false;
    this.problem(key, `expected yes or no, got ${quote(v)}`);
    return fallback ?? false;
  }

  ipv4(key: string, required = true): number | undefined {
    const v = this.raw(key, required);
    if (v === undefined) return undefined;
    const a = parseIpv4(v);
    if (a === undefined) this.problem(key, `expected an IPv4 address like 198.19.1.2, got ${quote(v)}`);
    return a;
  }

  /** An IPv4 or IPv6 address (an address number: addr/address.ts). */
  address(key: string, required = true): number | undefined {
    const v = this.raw(key, required);
    if (v === undefined) return undefined;
    const a = parseAddress(v);
    if (a === undefined) this.problem(key, `expected an IPv4 or IPv6 address like 198.19.1.2 or 2001:db8:19:6::2, got ${quote(v)}`);
    return a;
  }

  mac(key: string): Uint8Array | undefined {
    const v = this.raw(key, false);
    if (v === undefined) return undefined;
    const m = parseMac(v);
    if (m === undefined) this.problem(key, `expected a MAC address like 02:00:00:00:01:02, got ${quote(v)}`);
    return m;
  }

  /** A comma-separated list; empty items are reported. */
  list(key: string, required: boolean): string[] | undefined {
    const v = this.raw(key, required);
    if (v === undefined) return undefined;
    const items = v.split(',').map((s) => s.trim());
    if (items.some((s) => s === '')) {
      this.problem(key, `expected a comma-separated list without empty items, got ${quote(v)}`);
      return undefined;
    }
    return items;
  }

  /** A network interface name as the kernel accepts it (IFNAMSIZ - 1 bytes, no "/" or space). */
  ifname(key: string, fallback?: string): string | undefined {
    const v = this.raw(key, fallback === undefined);
    if (v === undefined) return fallback;
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(v)) {
      this.problem(key, `expected an interface name of 1 to 15 letters, digits, "_", "." or "-", got ${quote(v)}`);
      return fallback;
    }
    return v;
  }

  /** An interface name that may be left out. */
  optionalIfname(key: string): string | undefined {
    return this.raw(key, false) === undefined ? undefined : this.ifname(key);
  }

  /** Reports every key in the section that no getter asked for. */
  done(): void {
    for (const [key, e] of this.section.entries) {
      if (!this.known.has(key)) {
        const expected = [...this.known].sort().join(', ');
        this.problems.push({ file: this.file.name, line: e.line, section: this.section.name, key, message: `unknown key (expected one of: ${expected})` });
      }
    }
  }
}
