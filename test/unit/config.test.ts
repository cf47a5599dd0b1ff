import { formatAddress } from '../../appliance/addr/address';
import { expect } from 'chai';
import { configProblems } from './config-problems';
import { chmodSync, chownSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { loadConfig } from '../../appliance/config/load';
import { summarizeConfig } from '../../appliance/config/summary';
import type { Config } from '../../appliance/config/tables';
import { parseIpv4 } from '../../appliance/config/address';
import { REPO } from '../lab/lab';
import { appended, confCopies } from './conf-dir';

describe('config: the lab defaults in conf/', function () {
  const c = loadConfig(join(REPO, 'conf'));

  it('reads the appliance settings', function () {
    expect(c.appliance.socksPort).to.equal(1080);
    expect(c.appliance.idleTimeout).to.equal(300);
    expect(c.appliance.maxConnections).to.equal(200000);
    expect(c.appliance.controlSocket).to.equal('/run/socksalp/control.sock');
    expect(c.intranet.tun).to.equal('alp0');
    expect(c.intranet.vips.map(formatAddress)).to.deep.equal(['198.18.0.100', '2001:db8:18:100::100']);
  });

  it('orders capacity_for_priority from the highest priority down', function () {
    expect(c.capacityForPriority).to.deep.equal([
      { priority: 7, capacity: 10 },
      { priority: 4, capacity: 5 },
      { priority: 0, capacity: 0 },
    ]);
  });

  it('builds the Socks ALP Configuration table with its default record', function () {
    const http = c.alps.records.find((r) => r.name === 'http')!;
    expect(http).to.deep.equal({ name: 'http', ports: [80, 8080], priority: 7, discardEligible: false });
    expect(c.alps.fallback.priority).to.equal(4);
    expect(c.alps.fallback.discardEligible).to.equal(true);
  });

  it('builds the Socks Server ALP Configuration table', function () {
    expect(c.servers.map((s) => s.name)).to.deep.equal(['sa', 'sb', 'sc', 'sd']);
    const sa = c.servers[0];
    expect(sa.address).to.equal(parseIpv4('198.19.1.2'));
    expect(sa.local).to.deep.equal({ address: parseIpv4('198.19.1.1'), length: 24 });
    expect(sa.capacity).to.equal(15);
    expect(sa.isDefault).to.equal(true);
    expect(sa.mac).to.equal(undefined);
    expect(c.servers[2].versions).to.deep.equal(['5']);
    expect(c.servers[3].versions).to.deep.equal(['4', '4a', '5']);
    expect(c.servers[1].alps).to.deep.equal({ all: false, names: ['ftp', 'gopher', 'telnet'] });
  });
});

describe('config: credentials toward a server (username, password_file, auth)', function () {
  // A password nothing may print: every test looks for it, and for its bytes in hex.
  const SECRET = 'pw-Zq7xK9-DoNotPrint';
  const conf = confCopies();

  /** A copy of conf/ with a server [se] that has `keys`, and a password file `pw` holding `content`. */
  function confWith(keys: string, content: string | Buffer = `${SECRET}\n`, mode = 0o600): string {
    const dir = conf({ 'servers.ini': appended(`[se]\naddress = 198.19.5.2\ntap = alp-se\nlocal = 198.19.5.1/24\nalps = http\n${keys}\n`), pw: content });
    chmodSync(join(dir, 'pw'), mode);
    return dir;
  }

  const se = (c: Config) => c.servers.find((s) => s.name === 'se')!;
  const problems = configProblems;

  it('loads the username and the first line of the file as bytes; auth defaults to own; versions to 5', function () {
    const dir = confWith('username = salab-socks\npassword_file = pw', `${SECRET}\r\nsecond line\n`);
    const s = se(loadConfig(dir));
    expect(s.credentials!.username).to.deep.equal(Buffer.from('salab-socks'));
    expect(s.credentials!.password).to.deep.equal(Buffer.from(SECRET));
    expect(s.credentials!.passwordFile, 'relative to the configuration directory').to.equal(join(dir, 'pw'));
    expect(s.versions).to.deep.equal(['5']);
  });

  it('takes auth = own, an absolute path, a file without a line end, UTF-8 and 255 bytes each', function () {
    const user = 'ü'.repeat(127) + 'x';
    const dir = confWith(`username = ${user}\nauth = own\nversions = 5`, 'p'.repeat(255));
    writeFileSync(join(dir, 'servers.ini'), readFileSync(join(dir, 'servers.ini'), 'utf8') + `password_file = ${join(dir, 'pw')}\n`);
    const s = se(loadConfig(dir));
    expect(s.credentials!.username.length).to.equal(255);
    expect(s.credentials!.username.toString('utf8')).to.equal(user);
    expect(s.credentials!.password).to.deep.equal(Buffer.alloc(255, 'p'));
  });

  it('leaves the servers without credentials as they were: auth = passthrough, no credentials', function () {
    const c = loadConfig(confWith('username = u\npassword_file = pw'));
    for (const s of c.servers.filter((x) => x.name !== 'se')) expect(s).not.to.have.property('credentials');
    const plain = loadConfig(join(REPO, 'conf'));
    expect(plain.servers.every((s) => s.credentials === undefined)).to.equal(true);
    expect(loadConfig(confWith('auth = passthrough')).servers.every((s) => s.credentials === undefined)).to.equal(true);
  });

  it('reads the password again at every load, so that a reload takes a new one', function () {
    const dir = confWith('username = u\npassword_file = pw');
    expect(se(loadConfig(dir)).credentials!.password.toString()).to.equal(SECRET);
    writeFileSync(join(dir, 'pw'), 'another\n');
    expect(se(loadConfig(dir)).credentials!.password.toString()).to.equal('another');
  });

  it('never shows the password in JSON, util.inspect or the summary', function () {
    const c = loadConfig(confWith('username = salab-socks\npassword_file = pw'));
    const hex = Buffer.from(SECRET).toString('hex');
    const bytes = [...Buffer.from(SECRET)].join(',');
    const shown = [JSON.stringify(c), JSON.stringify(se(c)), inspect(c, { depth: Infinity }), inspect(se(c).credentials, { depth: Infinity }), String(se(c).credentials), summarizeConfig(c)];
    for (const text of shown) {
      expect(text).not.to.include(SECRET);
      expect(text.replace(/[\s<>]/g, '')).not.to.include(hex);
      expect(text.replace(/\s/g, '')).not.to.include(bytes);
    }
    expect(summarizeConfig(c)).to.match(/^ {2}se {2}username "salab-socks", password_file ".*\/pw" \(password: 20 bytes\)$/m);
    expect(JSON.parse(JSON.stringify(se(c))).credentials).to.deep.equal({ username: 'salab-socks', passwordFile: se(c).credentials!.passwordFile, password: '(20 bytes)' });
  });

  const cases: { rule: string; keys: string; content?: string | Buffer; mode?: number; where: RegExp }[] = [
    { rule: 'a username without password_file', keys: 'username = u', where: /^servers\.ini:\d+: \[se\] username: a username needs password_file/ },
    { rule: 'a password_file without username', keys: 'password_file = pw', where: /^servers\.ini:\d+: \[se\] password_file: a password needs its username/ },
    { rule: 'a missing password file', keys: 'username = u\npassword_file = nowhere', where: /^servers\.ini:\d+: \[se\] password_file: password file ".*\/nowhere" does not exist$/ },
    { rule: 'a password file readable by its group', keys: 'username = u\npassword_file = pw', mode: 0o640, where: /^servers\.ini:\d+: \[se\] password_file: password file ".*\/pw" is accessible by group or others \(mode 0640\); it must be readable by its owner only \(chmod 600\)$/ },
    { rule: 'a password file writable by others', keys: 'username = u\npassword_file = pw', mode: 0o602, where: /\[se\] password_file: password file ".*\/pw" is accessible by group or others \(mode 0602\)/ },
    { rule: 'a password file with an empty first line', keys: 'username = u\npassword_file = pw', content: `\n${SECRET}\n`, where: /\[se\] password_file: password file ".*\/pw" holds no password: its first line is empty$/ },
    { rule: 'an empty password file', keys: 'username = u\npassword_file = pw', content: '', where: /\[se\] password_file: password file ".*\/pw" holds no password/ },
    { rule: 'a password of 256 bytes', keys: 'username = u\npassword_file = pw', content: `${SECRET.repeat(13)}\n`.slice(-257), where: /\[se\] password_file: the password in ".*\/pw" is longer than 255 bytes, the most RFC 1929 allows$/ },
    { rule: 'a password file that is a directory', keys: 'username = u\npassword_file = .', where: /\[se\] password_file: password file ".*" is not a regular file$/ },
    { rule: 'a username of 256 bytes', keys: `username = ${'u'.repeat(256)}\npassword_file = pw`, where: /\[se\] username: expected 1 to 255 bytes \(RFC 1929\), got 256$/ },
    { rule: 'an empty username', keys: 'username =\npassword_file = pw', where: /\[se\] username: value is empty$/ },
    { rule: 'auth = passthrough with a username', keys: 'username = u\npassword_file = pw\nauth = passthrough', where: /\[se\] auth: passthrough forwards each client's own username and password, so username and password_file would go unused/ },
    { rule: 'auth = own without a username', keys: 'auth = own', where: /\[se\] auth: own needs username and password_file/ },
    { rule: 'an unknown auth', keys: 'username = u\npassword_file = pw\nauth = forward', where: /\[se\] auth: expected own or passthrough, got "forward"$/ },
    { rule: 'SOCKS4 toward a server the appliance logs in to', keys: 'username = u\npassword_file = pw\nversions = 4, 5', where: /\[se\] versions: a server the appliance logs in to \(auth = own\) speaks SOCKS5 only/ },
  ];
  for (const c of cases) {
    it(`refuses ${c.rule}, without a byte of the password`, function () {
      const found = problems(confWith(c.keys, c.content, c.mode));
      expect(found.some((l) => c.where.test(l)), found.join('\n')).to.equal(true);
      expect(found.join('\n')).not.to.include('DoNotPrint');
    });
  }

  it('refuses a password file owned by another user, naming the owner', function () {
    if (process.getuid?.() !== 0) this.skip();
    const dir = confWith('username = u\npassword_file = pw');
    chownSync(join(dir, 'pw'), 65534, 65534);
    const found = problems(dir);
    expect(found.some((l) => /\[se\] password_file: password file ".*\/pw" is owned by uid 65534; it must be owned by root or by the user running socksalp \(uid 0\)$/.test(l)), found.join('\n')).to.equal(true);
  });
});
