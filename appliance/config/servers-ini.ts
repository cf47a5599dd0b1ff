import type { IniFile } from './ini-file';
import type { Problem } from './problem';
import { quote } from '../text/printable';
import { SectionReader } from './fields';
import { isAbsolute, resolve } from 'node:path';
import { parsePrefixAny } from '../addr/prefix';
import { formatAddress, isV6 } from '../addr/address';
import { Credentials, readPasswordFile, RFC1929_MAX } from './credentials';
import { SOCKS_VERSIONS, type ServerCheck, type ServerRecord, type SocksVersion } from './tables';
import { parseEndpoint, withPort } from '../divert/endpoint';

/**
 * Reads the Socks Server ALP Configuration table: one section per SOCKS server. `dir` is the
 * configuration directory, from which a relative `password_file` is taken.
 */
export function readServersIni(file: IniFile, problems: Problem[], dir: string): ServerRecord[] {
  const servers: ServerRecord[] = [];
  for (const section of file.sections.values()) {
    const r = new SectionReader(file, section, problems);
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(section.name)) {
      r.problem(undefined, 'server names start with a letter and use up to 32 letters, digits, "_" and "-"');
    }
    const address = r.address('address');
    const port = r.port('port', 1080)!;
    const tap = r.ifname('tap');

    const localText = r.raw('local', true);
    const local = localText === undefined ? undefined : parsePrefixAny(localText);
    const v6 = local !== undefined && isV6(local.address);
    if (localText !== undefined && (local === undefined || (v6 ? local.length < 16 || local.length > 128 : local.length < 8 || local.length > 30))) {
      r.problem('local', `expected the appliance's address and segment prefix like 198.19.1.1/24 (prefix 8-30) or 2001:db8:19:6::1/64 (prefix 16-128), got ${quote(localText)}`);
    } else if (local !== undefined && address !== undefined && isV6(address) !== v6) {
      // The server leg is of the server's family; a dual-stack segment has a server record per family.
      r.problem('local', `${quote(localText!)} is not of the family of address ${formatAddress(address)}: a server is reached from the appliance's address of its own family (a dual-stack segment has one server section per family on the same tap)`);
    }

    const mac = r.mac('mac');
    const capacity = r.int('capacity', 0, 1_000_000, 0)!;

    const alpsText = r.list('alps', false) ?? ['ALL'];
    const all = alpsText.some((a) => a.toUpperCase() === 'ALL');
    if (all && alpsText.length > 1) r.problem('alps', 'ALL stands alone: it already means every ALP');

    const isDefault = r.bool('default', false);
    const { auth, credentials } = readCredentials(r, dir);

    const versions: SocksVersion[] = [];
    // RFC 1929 is SOCKS5's: a server the appliance logs in to speaks 5 unless told otherwise.
    for (const v of r.list('versions', false) ?? (auth === 'own' ? ['5'] : ['4', '5'])) {
      const known = SOCKS_VERSIONS.find((k) => k === v.toLowerCase());
      if (known === undefined) r.problem('versions', `expected SOCKS versions among 4, 4a and 5, got ${quote(v)}`);
      else if (!versions.includes(known)) versions.push(known);
    }
    if (auth === 'own' && versions.some((v) => v !== '5')) {
      r.problem('versions', 'a server the appliance logs in to (auth = own) speaks SOCKS5 only: a SOCKS4 request carries no password (RFC 1929 is SOCKS5\'s); list only 5, or leave versions out');
    }
    const queueLimit = r.int('queue_limit', 16, 1_000_000, 4096)!;
    const nic = r.optionalIfname('nic');
    const check = readCheck(r, versions);
    r.done();

    if (address === undefined || tap === undefined || local === undefined) continue;
    servers.push({
      name: section.name,
      address,
      port,
      tap,
      local,
      mac,
      capacity,
      alps: all ? { all: true } : { all: false, names: alpsText },
      isDefault,
      versions,
      queueLimit,
      nic,
      ...(credentials && { credentials }),
      ...(check && { check }),
    });
  }
  // Selection keeps the servers a connection already tried in one 32-bit mask.
  if (file.sections.size > 31) {
    problems.push({ file: file.name, message: `${file.sections.size} servers: at most 31 are supported` });
  }
  if (file.sections.size === 0) {
    problems.push({ file: file.name, message: 'no servers: define at least one [server] section' });
  }
  return servers;
}

/**
 * `check` and its keys: the target a SOCKS CONNECT through the server is checked with
 * (ADDRESS:PORT, or NAME:PORT for a server that speaks 4a or 5), `check_http` (a path),
 * `check_status`, `check_interval`, `check_timeout`, `rise` and `fall` (HAProxy's names).
 */
function readCheck(r: SectionReader, versions: SocksVersion[]): ServerCheck | undefined {
  const text = r.raw('check', false);
  const keys = ['check_http', 'check_status', 'check_interval', 'check_timeout', 'rise', 'fall'];
  const http = r.raw('check_http', false);
  const status = r.int('check_status', 100, 599, 200)!;
  const interval = r.int('check_interval', 1, 3600, 2)!;
  const timeout = r.int('check_timeout', 1, 300, 2)!;
  const rise = r.int('rise', 1, 100, 2)!;
  const fall = r.int('fall', 1, 100, 3)!;
  if (text === undefined) {
    const stray = keys.find((k) => r.has(k));
    if (stray !== undefined) r.problem(stray, 'a check setting needs check = ADDRESS:PORT, the target to reach through the server');
    return undefined;
  }
  const p = parseEndpoint(text);
  if (!p.ok || p.endpoint.port === undefined) {
    r.problem('check', `expected the target to reach through the server as ADDRESS:PORT or NAME:PORT, got ${quote(text)}`);
    return undefined;
  }
  if (p.endpoint.kind === 'name' && !versions.some((v) => v !== '4')) r.problem('check', 'a name needs SOCKS4a or 5, and this server speaks SOCKS4 only: give an address');
  if (p.endpoint.kind === 'ipv6' && !versions.includes('5')) r.problem('check', 'an IPv6 target needs SOCKS5 (ATYP 4), and this server does not speak it: give an IPv4 address or a name');
  if (http !== undefined && !/^\/[\x21-\x7e]*$/.test(http)) r.problem('check_http', `expected a path like /health (printable, no spaces), got ${quote(http)}`);
  return { target: withPort(p.endpoint, p.endpoint.port), ...(http !== undefined && { http }), status, interval, timeout, rise, fall };
}

/**
 * `username`, `password_file` and `auth` of one section. `auth = own` (the default when
 * username or password_file is given) needs both keys; `auth = passthrough` (the default
 * otherwise) takes neither, since it forwards each client's own username and password. Every
 * problem is reported; no message quotes the password or any byte of its file.
 */
function readCredentials(r: SectionReader, dir: string): { auth: 'own' | 'passthrough'; credentials?: Credentials } {
  // An empty value is a mistake here, not an absent key.
  const text = (key: string) => {
    const v = r.raw(key, false);
    if (v === undefined && r.has(key)) r.problem(key, 'value is empty');
    return v;
  };
  const usernameText = text('username');
  const fileText = text('password_file');
  const authText = text('auth');
  const named = [r.has('username') && 'username', r.has('password_file') && 'password_file'].filter(Boolean).join(' and ');
  let auth: 'own' | 'passthrough' = named ? 'own' : 'passthrough';
  if (authText !== undefined) {
    const a = authText.toLowerCase();
    if (a === 'own' || a === 'passthrough') auth = a;
    else r.problem('auth', `expected own or passthrough, got ${quote(authText)}`);
  }
  if (auth === 'passthrough') {
    if (named) r.problem('auth', `passthrough forwards each client's own username and password, so ${named} would go unused: remove ${named}, or set auth = own`);
    return { auth };
  }
  if (!named) {
    r.problem('auth', 'own needs username and password_file: the credentials the appliance presents to this server');
    return { auth };
  }
  let username: Buffer | undefined;
  if (!r.has('username')) {
    r.problem('password_file', 'a password needs its username: add username');
  } else if (usernameText !== undefined) {
    if (/[\ud800-\udfff]/.test(usernameText.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''))) {
      r.problem('username', `expected UTF-8 text, got ${quote(usernameText)}`);
    } else {
      username = Buffer.from(usernameText, 'utf8');
      if (username.length > RFC1929_MAX) {
        r.problem('username', `expected 1 to ${RFC1929_MAX} bytes (RFC 1929), got ${username.length}`);
        username = undefined;
      }
    }
  }
  let password: Buffer | undefined;
  let path: string | undefined;
  if (!r.has('password_file')) {
    r.problem('username', 'a username needs password_file, the file holding its password');
  } else if (fileText !== undefined) {
    path = isAbsolute(fileText) ? fileText : resolve(dir, fileText);
    const got = readPasswordFile(path);
    if (typeof got === 'string') r.problem('password_file', got);
    else password = got;
  }
  if (username === undefined || password === undefined || path === undefined) return { auth };
  return { auth, credentials: new Credentials(username, password, path) };
}
