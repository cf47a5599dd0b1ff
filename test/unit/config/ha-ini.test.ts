import { expect } from 'chai';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { loadHa, type HaSettings } from '../../../appliance/config/ha-ini';
import { ConfigError, formatProblem } from '../../../appliance/config/problem';
import { REPO } from '../../lab/lab';
import { confCopies, tempDirs } from '../conf-dir';
import { loadConfig } from '../../../appliance/config/load';
import { editIni } from '../../lab/appliance-process';

/** ha.ini (config/ha-ini.ts): issue 16's [sync]. */

const KEY = 'the-sync-key-0123456789abcdef';
const tempDir = tempDirs();

function dir(text: string | undefined, keyMode = 0o600, key = KEY): string {
  const d = tempDir();
  writeFileSync(join(d, 'ha.key'), key + '\n', { mode: keyMode });
  if (text !== undefined) writeFileSync(join(d, 'ha.ini'), text);
  return d;
}

function problems(d: string): string[] {
  try {
    loadHa(d);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map(formatProblem);
    throw e;
  }
  return [];
}

const GOOD = '[sync]\nlisten = 198.18.0.1:7500\npeers = 198.18.0.3:7500\nkey_file = ha.key\n';

describe('config/ha-ini: ha.ini', function () {
  it('is optional: no file, a single appliance', function () {
    expect(loadHa(dir(undefined))).to.equal(undefined);
  });

  it('reads conf/ha.ini.example, with defaults, and never shows the key', function () {
    const d = dir(readFileSync(join(REPO, 'conf/ha.ini.example'), 'utf8'));
    const h = loadHa(d) as HaSettings;
    expect(h.listen).to.deep.equal({ host: '198.18.0.1', port: 7500, v6: false });
    expect(h.peers).to.deep.equal([{ host: '198.18.0.3', port: 7500, v6: false }]);
    expect(h.key.bytes.toString()).to.equal(KEY);
    expect(h.key.file).to.equal(join(d, 'ha.key'));
    expect([h.intervalMs, h.maxEntries, h.refreshS, h.role]).to.deep.equal([20, 1_000_000, 60, 'backup']);
    expect(JSON.stringify(h)).to.not.include(KEY);
    expect(inspect(h, { depth: 5 })).to.not.include(KEY);
    expect(JSON.stringify(h)).to.include(`(${KEY.length} bytes)`);
  });

  it('takes IPv6 in brackets, several peers, and gives each listen its own sender id', function () {
    const h = loadHa(dir('[sync]\nlisten = [2001:db8:18:0::1]:7500\npeers = [2001:db8:18::3]:7500, [2001:db8:18::4]:7501\nkey_file = ha.key\ninterval_ms = 5\nmax_entries = 10\n'))!;
    expect(h.listen).to.deep.equal({ host: '2001:db8:18::1', port: 7500, v6: true });
    expect(h.peers.map((p) => `${p.host} ${p.port}`)).to.deep.equal(['2001:db8:18::3 7500', '2001:db8:18::4 7501']);
    expect([h.intervalMs, h.maxEntries]).to.deep.equal([5, 10]);
    expect(loadHa(dir(GOOD + 'role = Master\n'))!.role).to.equal('master');
    expect(loadHa(dir(GOOD + 'role = member\nmember = 3\nmembers = 3\n'))).to.deep.include({ role: 'member', member: { index: 3, count: 3 } });
    const other = loadHa(dir(GOOD.replace('listen = 198.18.0.1', 'listen = 198.18.0.2')))!;
    expect(other.sender).to.not.equal(loadHa(dir(GOOD))!.sender);
  });

  it('names file, section and key of each bad value', function () {
    const cases: [string, string][] = [
      [GOOD.replace('listen = 198.18.0.1:7500', 'listen = 198.18.0.1'), 'ha.ini:2: [sync] listen: expected ADDRESS:PORT like 198.18.0.1:7500 (an IPv6 address in brackets, [2001:db8::1]:7500), got "198.18.0.1"'],
      [GOOD.replace('listen = 198.18.0.1:7500\n', ''), 'ha.ini:1: [sync] listen: required key is missing'],
      [GOOD.replace('peers = 198.18.0.3:7500', 'peers = 198.18.0.3:7500,'), 'ha.ini:3: [sync] peers: expected a comma-separated list without empty items, got "198.18.0.3:7500,"'],
      [GOOD.replace('peers = 198.18.0.3:7500', 'peers = 198.18.0.3:70000'), 'ha.ini:3: [sync] peers: expected ADDRESS:PORT like 198.18.0.1:7500 (an IPv6 address in brackets, [2001:db8::1]:7500), got "198.18.0.3:70000"'],
      [GOOD.replace('peers = 198.18.0.3:7500', 'peers = [2001:db8::3]:7500'), 'ha.ini:3: [sync] peers: peer "[2001:db8::3]:7500" is of another address family than listen: one socket sends to every peer'],
      [GOOD.replace('peers = 198.18.0.3:7500', 'peers = 198.18.0.1:7500'), 'ha.ini:3: [sync] peers: peer "198.18.0.1:7500" is this appliance\'s own listen'],
      [GOOD.replace('peers = 198.18.0.3:7500', 'peers = 198.18.0.3:7500, 198.18.0.3:7500'), 'ha.ini:3: [sync] peers: peer "198.18.0.3:7500" is listed twice'],
      [GOOD.replace('key_file = ha.key', 'key_file = missing.key'), 'ha.ini:4: [sync] key_file: key file'],
      [GOOD + 'interval_ms = 0\n', 'ha.ini:5: [sync] interval_ms: expected a whole number from 1 to 1000, got "0"'],
      [GOOD + 'max_entries = lots\n', 'ha.ini:5: [sync] max_entries: expected a whole number from 1 to 10000000, got "lots"'],
      [GOOD + 'port = 7500\n', 'ha.ini:5: [sync] port: unknown key (expected one of: interval_ms, key_file, listen, max_entries, member, members, peers, refresh_s, role)'],
      [GOOD + 'refresh_s = 5\n', 'ha.ini:5: [sync] refresh_s: expected a whole number from 30 to 3600, got "5"'],
      [GOOD + 'role = primary\n', 'ha.ini:5: [sync] role: expected master or backup (the role at start of a pair; keepalived\'s notify scripts change it) or member (of an ECMP group), got "primary"'],
      [GOOD + 'role = member\nmember = 2\n', 'ha.ini:1: [sync] members: required with role = member: how many appliances the ECMP group has (2 to 64)'],
      [GOOD + 'role = member\nmembers = 3\nmember = 4\n', 'ha.ini:7: [sync] member: expected at most members (3), got 4'],
      [GOOD + 'role = master\nmember = 1\n', 'ha.ini:6: [sync] member: only with role = member (an ECMP group)'],
      [GOOD + '[bfd]\n', 'ha.ini:5: [bfd]: unknown section (expected [sync], [vrrp] or [bgp])'],
      ['; nothing\n', 'ha.ini: no [sync] section: remove ha.ini for a single appliance, or add [sync] with listen, peers and key_file'],
    ];
    for (const [text, expected] of cases) {
      const got = problems(dir(text));
      expect(got, text).to.have.lengthOf(1);
      expect(got[0], text).to.satisfy((m: string) => m.startsWith(expected));
    }
  });

  it('refuses a key file others may read, or a key too short, without quoting it', function () {
    const loose = problems(dir(GOOD, 0o644));
    expect(loose).to.have.lengthOf(1);
    expect(loose[0]).to.match(/^ha\.ini:4: \[sync\] key_file: key file ".*ha\.key" is accessible by group or others \(mode 0644\)/);
    const short = problems(dir(GOOD, 0o600, 'short'));
    expect(short[0]).to.match(/key_file: the key in ".*ha\.key" is 5 bytes long; it must be at least 16 bytes$/);
    expect([...loose, ...short].join('\n')).to.not.include(KEY).and.to.not.include('short"');
  });
});

describe('config/load: ha.ini in a configuration', function () {
  const copy = confCopies();
  const files = () => ({ 'ha.ini': GOOD, 'ha.key': Buffer.from(KEY + '\n') });

  it('is loaded with the rest, its problems among the others', function () {
    const d = copy(files());
    chmodSync(join(d, 'ha.key'), 0o600);
    expect(loadConfig(d).ha?.listen).to.deep.equal({ host: '198.18.0.1', port: 7500, v6: false });
    writeFileSync(join(d, 'ha.ini'), GOOD + 'interval_ms = 0\n');
    expect(() => loadConfig(d)).to.throw(ConfigError).that.satisfies((e: ConfigError) =>
      e.problems.map(formatProblem).some((m) => m.startsWith('ha.ini:5: [sync] interval_ms')));
  });

  it('is refused with several workers, in appliance.ini [appliance] workers', function () {
    const d = copy(files());
    chmodSync(join(d, 'ha.key'), 0o600);
    editIni(join(d, 'appliance.ini'), { workers: '2' });
    try {
      loadConfig(d);
      expect.fail('loaded');
    } catch (e) {
      expect((e as ConfigError).problems.map(formatProblem).join('\n')).to.match(/appliance\.ini:\d+: \[appliance\] workers: 2 workers cannot be combined with ha\.ini's sync yet/);
    }
  });
});
