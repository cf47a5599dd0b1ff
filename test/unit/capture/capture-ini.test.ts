import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../../appliance/config/load';
import { REPO } from '../../lab/lab';
import { configProblems } from '../config-problems';
import { appended, confCopies } from '../conf-dir';

describe('config: appliance.ini [capture]', function () {
  const conf = confCopies();
  /** A copy of conf/ whose appliance.ini ends with a [capture] of `lines`. */
  const withCapture = (lines: string) => conf({ 'appliance.ini': appended(`[capture]\n${lines}\n`) });
  /** The line of a copy's appliance.ini that withCapture's first key lands on. */
  const first = readFileSync(join(REPO, 'conf', 'appliance.ini'), 'utf8').split('\n').length + 2;

  it('is off without drops, as in conf/; its other keys without drops are reported, as they would do nothing', function () {
    expect(loadConfig(conf()).capture).to.equal(undefined);
    const file = 'appliance.ini';
    expect(configProblems(withCapture('max_bytes = 4M\nsnaplen = 512'))).to.deep.equal([
      `${file}:${first}: [capture] max_bytes: the capture is off: add drops = FILE`,
      `${file}:${first + 1}: [capture] snaplen: the capture is off: add drops = FILE`,
    ]);
  });

  it('an empty drops is reported as such, not as the capture being off', function () {
    const file = 'appliance.ini';
    expect(configProblems(withCapture('drops =\nsnaplen = 512'))).to.deep.equal([
      `${file}:${first}: [capture] drops: value is empty: expected the capture file's absolute path, or leave the key out`,
    ]);
  });

  it('defaults: a 16 MiB ring, 256 bytes of each datagram; sizes in bytes or with K, M, G', function () {
    expect(loadConfig(withCapture('drops = /var/log/socksalp/drops.pcapng')).capture).to.deep.equal({ drops: '/var/log/socksalp/drops.pcapng', maxBytes: 16 << 20, snaplen: 256 });
    for (const [text, bytes] of [['2M', 2 << 20], ['1048576', 1 << 20], ['4096k', 4 << 20], ['1G', 1 << 30]] as const) {
      expect(loadConfig(withCapture(`drops = /tmp/d.pcapng\nmax_bytes = ${text}\nsnaplen = 65535`)).capture).to.deep.equal({ drops: '/tmp/d.pcapng', maxBytes: bytes, snaplen: 65535 });
    }
  });

  it('names the file, line, section and key of each bad value', function () {
    const file = 'appliance.ini';
    expect(configProblems(withCapture('drops = drops.pcapng\nmax_bytes = 512K\nsnaplen = 20\nring = 2'))).to.deep.equal([
      `${file}:${first}: [capture] drops: expected the capture file's absolute path, like /var/log/socksalp/drops.pcapng, got "drops.pcapng"`,
      `${file}:${first + 1}: [capture] max_bytes: expected a size from 1M to 64G (bytes, or a number followed by K, M or G), got "512K"`,
      `${file}:${first + 2}: [capture] snaplen: expected a whole number from 64 to 65535, got "20"`,
      `${file}:${first + 3}: [capture] ring: unknown key (expected one of: drops, max_bytes, snaplen)`,
    ]);
  });
});
