import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../lab/lab';
import { appended, confCopies } from './conf-dir';

const CLI = join(REPO, 'dist', 'appliance', 'cli', 'index.js');
const FILES = ['appliance.ini', 'alp.ini', 'servers.ini'];

function socksalp(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

/**
 * One broken configuration per validation rule: a copy of conf/ with one edit. `from` must
 * occur in the file (checked), so a drifting default file cannot make a case pass vacuously.
 */
interface Broken {
  rule: string;
  file: string;
  from: RegExp | 'append' | 'delete-file';
  to?: string;
  /** The start the message must have: "file:line: [section] key:" */
  where: RegExp;
  /** A second edit the case needs: [file, from, to]. */
  also?: [string, RegExp, string];
}

const CASES: Broken[] = [
  { rule: 'unknown key', file: 'appliance.ini', from: /^socks_port = 1080/m, to: 'sock_port = 1080', where: /^appliance\.ini:\d+: \[appliance\] sock_port: unknown key/ },
  { rule: 'duplicate section', file: 'alp.ini', from: 'append', to: '[http]\nports = 81\npriority = 1\ndiscard_eligible = no\n', where: /^alp\.ini:\d+: \[http\]: duplicate section \(first at line \d+\)/ },
  { rule: 'duplicate key', file: 'servers.ini', from: /^port = 1080/m, to: 'port = 1080\nport = 1081', where: /^servers\.ini:\d+: \[sa\] port: duplicate key/ },
  { rule: 'bad address', file: 'servers.ini', from: /198\.19\.1\.2$/m, to: '198.19.1.300', where: /^servers\.ini:\d+: \[sa\] address: expected an IPv4 or IPv6 address/ },
  { rule: 'number out of range', file: 'appliance.ini', from: /^socks_port = 1080/m, to: 'socks_port = 70000', where: /^appliance\.ini:\d+: \[appliance\] socks_port: expected a whole number from 1 to 65535, got "70000"/ },
  { rule: 'ALP named by a server but defined nowhere', file: 'servers.ini', from: /^alps = ftp, gopher, telnet/m, to: 'alps = ftp, news', where: /^servers\.ini:\d+: \[sb\] alps: ALP "news" is not defined in alp\.ini/ },
  { rule: 'two servers on one TAP with different segments', file: 'servers.ini', from: /^tap = alp-sb/m, to: 'tap = alp-sa', where: /^servers\.ini:\d+: \[sb\] local: TAP "alp-sa" is already on segment 198\.19\.1\.1\/24/ },
  { rule: 'missing required key', file: 'servers.ini', from: /^address = 198\.19\.3\.2\n/m, to: '', where: /^servers\.ini:\d+: \[sc\] address: required key is missing/ },
  { rule: 'bad yes/no', file: 'alp.ini', from: /^discard_eligible = no/m, to: 'discard_eligible = maybe', where: /^alp\.ini:\d+: \[http\] discard_eligible: expected yes or no, got "maybe"/ },
  { rule: 'port claimed by two ALPs', file: 'alp.ini', from: /^ports = 20, 21/m, to: 'ports = 21, 80', where: /^alp\.ini:\d+: \[ftp\] ports: port 80 already belongs to ALP "http"/ },
  { rule: 'two default servers', file: 'servers.ini', from: /^versions = 5/m, to: 'versions = 5\ndefault = yes', where: /^servers\.ini:\d+: \[sc\] default: only one server may be the default; "sa" already is/ },
  { rule: 'server off its segment', file: 'servers.ini', from: /^local = 198\.19\.2\.1\/24/m, to: 'local = 198.19.9.1/24', where: /^servers\.ini:\d+: \[sb\] address: 198\.19\.2\.2 is not on the segment 198\.19\.9\.1\/24/ },
  { rule: 'missing [default] ALP', file: 'alp.ini', from: /^\[default\][^[]*/m, to: '', where: /^alp\.ini: \[default\]: missing section/ },
  { rule: 'bad MAC address', file: 'servers.ini', from: /^capacity = 15/m, to: 'capacity = 15\nmac = 02:00:00:00:01', where: /^servers\.ini:\d+: \[sa\] mac: expected a MAC address/ },
  { rule: 'bad capacity_for_priority', file: 'appliance.ini', from: /^capacity_for_priority = .*$/m, to: 'capacity_for_priority = 7-10, 0:0', where: /^appliance\.ini:\d+: \[selection\] capacity_for_priority: expected "priority:capacity" pairs/ },
  { rule: 'unknown section', file: 'appliance.ini', from: 'append', to: '[dispatcher]\nmode = fast\n', where: /^appliance\.ini:\d+: \[dispatcher\]: unknown section/ },
  { rule: 'route through a TAP no server uses', file: 'appliance.ini', from: /^203\.0\.113\.0\/24 = alp-sa via 198\.19\.1\.2$/m, to: '203.0.113.0/24 = alp-zz via 198.19.1.2', where: /^appliance\.ini:\d+: \[routes\] 203\.0\.113\.0\/24: TAP "alp-zz" is not the TAP of any server/ },
  { rule: 'one NIC for two segments', file: 'servers.ini', from: /^tap = alp-sb$/m, to: 'tap = alp-sb\nnic = ens4', also: ['servers.ini', /^tap = alp-sa$/m, 'tap = alp-sa\nnic = ens4'], where: /^servers\.ini:\d+: \[sb\] nic: nic "ens4" is already bridged with TAP "alp-sa"/ },
  { rule: 'a server on the intranet NIC', file: 'appliance.ini', from: /^tun = alp0$/m, to: 'tun = alp0\nnic = ens4', also: ['servers.ini', /^tap = alp-sa$/m, 'tap = alp-sa\nnic = ens4'], where: /^servers\.ini:\d+: \[sa\] nic: "ens4" is the intranet's nic/ },
  { rule: 'an address without its NIC', file: 'appliance.ini', from: /^tun = alp0$/m, to: 'tun = alp0\naddress = 198.18.0.1/24', where: /^appliance\.ini:\d+: \[intranet\] address: an address needs the nic it goes on/ },
  { rule: 'missing file', file: 'servers.ini', from: 'delete-file', where: /^servers\.ini: file not found/ },
];

describe('socksalp check', function () {
  this.timeout(20_000);
  const conf = confCopies();

  function brokenCopy(c: Broken): string {
    const dir = conf();
    const path = join(dir, c.file);
    if (c.from === 'delete-file') {
      rmSync(path);
    } else if (c.from === 'append') {
      writeFileSync(path, readFileSync(path, 'utf8') + '\n' + c.to);
    } else {
      const text = readFileSync(path, 'utf8');
      expect(c.from.test(text), `${c.file} contains ${c.from}`).to.equal(true);
      writeFileSync(path, text.replace(c.from, c.to ?? ''));
    }
    if (c.also) {
      const [file, from, to] = c.also;
      const other = join(dir, file);
      const text = readFileSync(other, 'utf8');
      expect(from.test(text), `${file} contains ${from}`).to.equal(true);
      writeFileSync(other, text.replace(from, to));
    }
    return dir;
  }

  it('accepts conf/ and prints the tables', function () {
    const r = socksalp('check', '--config', join(REPO, 'conf'));
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/: valid\n/);
    expect(r.stdout).to.match(/^ {2}http +80,8080 +7 +no$/m);
    expect(r.stdout).to.match(/^ {2}sa +198\.19\.1\.2:1080 +alp-sa +198\.19\.1\.1\/24 +arp +15 +http,ssl +4,5 +4096 +yes$/m);
    expect(r.stderr).to.equal('');
  });

  for (const c of CASES) {
    it(`refuses ${c.rule}, naming file, section and key`, function () {
      const r = socksalp('check', '--config', brokenCopy(c));
      expect(r.status).to.equal(1);
      expect(r.stdout).to.equal('');
      const lines = r.stderr.split('\n');
      expect(lines.some((l) => c.where.test(l)), `stderr was:\n${r.stderr}`).to.equal(true);
      expect(r.stderr).to.match(/problems? in .*; nothing was applied\n$/);
      expect(r.stderr).not.to.match(/\n\s+at /);
    });
  }

  it('shows what it quotes from a garbled file escaped and cut, never raw', function () {
    const dir = conf();
    const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
    // Every byte but newline and "=", over and over: a line of binary garbage (no key in it).
    const noise = (n: number) => [...Array(n).keys()].map((i) => (i * 37 + 11) % 256).filter((b) => b !== 0x0a && b !== 0x3d);
    const edit = (file: string, from: RegExp, to: Buffer) => {
      const path = join(dir, file);
      const text = readFileSync(path, 'latin1');
      expect(from.test(text), `${file} contains ${from}`).to.equal(true);
      writeFileSync(path, Buffer.concat([Buffer.from(text.slice(0, text.search(from)), 'latin1'), to, Buffer.from(text.slice(text.search(from)).replace(from, ''), 'latin1')]));
    };
    // alp.ini fails its line scan: a garbage line, a section name and a key with escape
    // sequences, NUL, invalid UTF-8, a UTF-8 C1 control (U+009B, CSI), and a very long line.
    edit('alp.ini', /^ports = 80, 8080$/m, bytes('ports = 80, 8080\n', '\x1b[2J\x1b]0;owned\x07 cleared', [0xff, 0xfe, 0xc3, 0x28, 0x7f, 0xc2, 0x9b], '31m\n', 'k\x1b[1m\x00ey = 1\n'));
    edit('alp.ini', /^\[ssl\]$/m, bytes('[\x1b[31mred\x00]\n[ssl]'));
    edit('alp.ini', /^\[telnet\]$/m, bytes('X', noise(5000), '\n[', noise(3000).filter((b) => b !== 0x5d), ']\n[telnet]'));
    // appliance.ini and servers.ini scan clean, so their values are read and refused.
    edit('appliance.ini', /^socks_port = 1080$/m, bytes('socks_port = \x1b[5m1080\x00', [0x9b, 0xe2, 0x80, 0xae], 'x\\y'));
    edit('appliance.ini', /^control_socket = .*$/m, bytes('control_socket = \x1bP', noise(800)));
    edit('servers.ini', /^address = 198\.19\.1\.2$/m, bytes('address = 198.19.1.2', [0xed, 0xa0, 0x80, 0xf8, 0x88, 0x80, 0x80, 0x80]));

    const r = spawnSync(process.execPath, [CLI, 'check', '--config', dir]);
    expect(r.status).to.equal(1);
    expect(r.stdout.length).to.equal(0);
    const out: Buffer = r.stderr;
    const bad = [...out].findIndex((b) => (b < 0x20 && b !== 0x0a) || b === 0x7f);
    expect(bad, `control byte at ${bad} in:\n${out.toString('latin1')}`).to.equal(-1);
    const text = new TextDecoder('utf-8', { fatal: true }).decode(out);
    expect(text).not.to.match(/[\u0080-\u009f\u202e]/);
    const lines = text.split('\n');
    expect(lines.pop()).to.equal('');
    expect(lines.pop()).to.match(/problems in .*; nothing was applied$/);
    for (const l of lines) {
      expect(l, 'file:line: [section] key: message').to.match(/^(alp|appliance|servers)\.ini:\d+: (\[[^\n]*\])?[^\n]*: /);
      expect(l.length, l).to.be.at.most(200);
    }
    const has = (re: RegExp) => expect(lines.some((l) => re.test(l)), `${re} in:\n${text}`).to.equal(true);
    has(/^alp\.ini:\d+: \[http\]: expected "\[section\]" or "key = value", got "\\x1b\[2J\\x1b\]0;owned\\x07 cleared\\xff\\xfe\\xc3\(\\x7f\\x9b31m"$/);
    has(/^alp\.ini:\d+: \[http\] k\\x1b\[1m\\x00ey: key names use /);
    has(/^alp\.ini:\d+: \[\\x1b\[31mred\\x00\]: section names use /);
    has(/^alp\.ini:\d+: \[ssl\]: expected "\[section\]" or "key = value", got "X.{50,}\.\.\."$/);
    has(/^alp\.ini:\d+: \[.{50,}\.\.\.\]: section names use /);
    has(/^appliance\.ini:\d+: \[appliance\] socks_port: expected a whole number from 1 to 65535, got "\\x1b\[5m1080\\x00\\x9b\\u202ex\\\\y"$/);
    has(/^appliance\.ini:\d+: \[appliance\] control_socket: expected an absolute path, got "\\x1bP.{50,}\.\.\."$/);
    has(/^servers\.ini:\d+: \[sa\] address: expected an IPv4 or IPv6 address like 198\.19\.1\.2 or 2001:db8:19:6::2, got "198\.19\.1\.2\\xed\\xa0\\x80\\xf8\\x88\\x80\\x80\\x80"$/);
  });

  it('answers --help and refuses unknown options with the usage', function () {
    const help = socksalp('check', '--help');
    expect(help.status).to.equal(0);
    expect(help.stdout).to.match(/^Usage: socksalp check/);
    const bad = socksalp('check', '--bogus');
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.match(/Unknown option '--bogus'[\s\S]*Usage: socksalp check/);
  });
});

describe('socksalp check: credentials toward a server', function () {
  this.timeout(20_000);
  // Looked for in everything check prints, valid or not.
  const SECRET = 'hunter2-Qx81-NeverShown';
  const conf = confCopies();

  function confWith(keys: string, content = `${SECRET}\n`, mode = 0o600): string {
    const dir = conf({ 'servers.ini': appended(`[se]\naddress = 198.19.5.2\ntap = alp-se\nlocal = 198.19.5.1/24\nalps = http\n${keys}\n`), 'se.password': content });
    chmodSync(join(dir, 'se.password'), mode);
    return dir;
  }

  const never = (r: { stdout: string; stderr: string }) => {
    for (const out of [r.stdout, r.stderr]) {
      expect(out).not.to.include(SECRET);
      expect(out).not.to.include('NeverShown');
      expect(out).not.to.include(Buffer.from(SECRET).toString('hex'));
    }
  };

  it('prints the username, the password file and the password\'s length, not the password', function () {
    const dir = confWith('username = salab-socks\npassword_file = se.password');
    const r = socksalp('check', '--config', dir);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^ {2}se +198\.19\.5\.2:1080 +alp-se +198\.19\.5\.1\/24 +arp +0 +http +5 +4096 *$/m);
    expect(r.stdout).to.match(/^RFC 1929 credentials the appliance presents \(auth = own; every other server: passthrough\)$/m);
    expect(r.stdout).to.include(`  se  username "salab-socks", password_file "${join(dir, 'se.password')}" (password: ${SECRET.length} bytes)\n`);
    never(r);
  });

  it('prints no credentials section for conf/, where every server is passthrough', function () {
    const r = socksalp('check', '--config', join(REPO, 'conf'));
    expect(r.stdout).not.to.match(/credentials|password/i);
  });

  const refused: { rule: string; keys: string; content?: string; mode?: number; where: RegExp }[] = [
    { rule: 'a username without password_file', keys: 'username = u', where: /^servers\.ini:\d+: \[se\] username: a username needs password_file, the file holding its password$/ },
    { rule: 'a password_file without username', keys: 'password_file = se.password', where: /^servers\.ini:\d+: \[se\] password_file: a password needs its username: add username$/ },
    { rule: 'a missing password file', keys: 'username = u\npassword_file = /nonexistent/se.password', where: /^servers\.ini:\d+: \[se\] password_file: password file "\/nonexistent\/se\.password" does not exist$/ },
    { rule: 'a password file readable by others', keys: 'username = u\npassword_file = se.password', mode: 0o644, where: /^servers\.ini:\d+: \[se\] password_file: password file ".*\/se\.password" is accessible by group or others \(mode 0644\); it must be readable by its owner only \(chmod 600\)$/ },
    { rule: 'an empty password', keys: 'username = u\npassword_file = se.password', content: `\n${SECRET}\n`, where: /^servers\.ini:\d+: \[se\] password_file: password file ".*\/se\.password" holds no password: its first line is empty$/ },
    { rule: 'a password longer than 255 bytes', keys: 'username = u\npassword_file = se.password', content: SECRET.repeat(12), where: /^servers\.ini:\d+: \[se\] password_file: the password in ".*\/se\.password" is longer than 255 bytes, the most RFC 1929 allows$/ },
    { rule: 'auth = passthrough with credentials', keys: 'username = u\npassword_file = se.password\nauth = passthrough', where: /^servers\.ini:\d+: \[se\] auth: passthrough forwards each client's own username and password, so username and password_file would go unused: remove username and password_file, or set auth = own$/ },
  ];
  for (const c of refused) {
    it(`refuses ${c.rule}, and prints no byte of the password`, function () {
      const r = socksalp('check', '--config', confWith(c.keys, c.content, c.mode));
      expect(r.status).to.equal(1);
      expect(r.stdout).to.equal('');
      expect(r.stderr.split('\n').some((l) => c.where.test(l)), `stderr was:\n${r.stderr}`).to.equal(true);
      expect(r.stderr).to.match(/problems? in .*; nothing was applied\n$/);
      never(r);
    });
  }

  it('refuses a password file its user cannot read, and one another user owns (as root)', function () {
    if (process.getuid?.() !== 0) this.skip();
    const dir = confWith('username = u\npassword_file = se.password');
    chmodSync(dir, 0o755);
    for (const f of FILES) chmodSync(join(dir, f), 0o644);
    // nobody may read the configuration but not root's password file.
    const asNobody = spawnSync(process.execPath, [CLI, 'check', '--config', dir], { encoding: 'utf8', uid: 65534, gid: 65534 });
    expect(asNobody.status, asNobody.stderr).to.equal(1);
    expect(asNobody.stderr).to.match(/^servers\.ini:\d+: \[se\] password_file: password file ".*\/se\.password" cannot be read by this user \(uid 65534\): permission denied$/m);
    never(asNobody);
    // root reads a file of nobody's, but refuses it.
    chownSync(join(dir, 'se.password'), 65534, 65534);
    const asRoot = socksalp('check', '--config', dir);
    expect(asRoot.status).to.equal(1);
    expect(asRoot.stderr).to.match(/^servers\.ini:\d+: \[se\] password_file: password file ".*\/se\.password" is owned by uid 65534; it must be owned by root or by the user running socksalp \(uid 0\)$/m);
    never(asRoot);
  });
});
