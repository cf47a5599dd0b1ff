import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { REPO } from '../lab/lab';
import { applianceForSuite, editIni } from '../lab/appliance-process';

const SOCKET = '/run/socksalp-test-cc/control.sock';
const CLI = join(REPO, 'dist', 'appliance', 'cli', 'index.js');

/**
 * Congestion control (figure 9) provoked for real: sb's output queue bound is cut to 16, a
 * client pushes 8 MB through the FTP echo service at once, the appliance discards over the
 * bound, and TCP on both ends still delivers every byte. The discards are counted by ALP.
 */
describe('congestion control: a small queue under a burst', function () {
  this.timeout(90_000);
  // queue_limit = 16 goes in on a line of its own after sb's capacity.
  const s = applianceForSuite(SOCKET, {}, {}, (dir) => editIni(join(dir, 'servers.ini'), { 'sb capacity': '5\nqueue_limit = 16' }));

  it('discards over the bound, counts by ALP, and the echo still returns every byte', function () {
    const lab = s.lab;
    const data = randomBytes(8_000_000);
    const banner = `socksalp-lab ftp ${lab.LAB_SERVER_SB_EGRESS}\n`;
    // socat holds its input open 3 s after the data, for the echo to come back.
    const r = spawnSync('bash', ['-c', `(cat; sleep 3) | ip netns exec ${lab.LAB_NS_CLIENT} timeout 60 socat -T 5 - SOCKS4:${lab.LAB_VIP}:${lab.LAB_WEB_ADDR}:21,socksport=1080`], {
      input: data, maxBuffer: 32 << 20,
    });
    expect(r.status, r.stderr?.toString()).to.equal(0);
    const out = r.stdout as Buffer;
    expect(out.subarray(0, banner.length).toString()).to.equal(banner);
    const echoed = out.subarray(banner.length);
    expect(echoed.length).to.equal(data.length);
    expect(createHash('sha256').update(echoed).digest('hex')).to.equal(createHash('sha256').update(data).digest('hex'));

    const alps = spawnSync(process.execPath, [CLI, 'ctl', '--socket', SOCKET, 'alps'], { encoding: 'utf8' });
    // ALP Ports Priority DiscardEligible ActiveConn Packets Discards ...
    const discards = (name: string) => Number(alps.stdout.split('\n').find((l) => l.startsWith(`${name} `))!.trim().split(/\s+/)[6]);
    expect(discards('ftp'), alps.stdout).to.be.greaterThan(0);
    expect(discards('http')).to.equal(0);
    const list = spawnSync(process.execPath, [CLI, 'ctl', '--socket', SOCKET, 'list'], { encoding: 'utf8' });
    expect(list.stdout).to.match(/^sb\s.*\s\d+\/16\s+[1-9]\d*\s/m); // Queue, then Discards
  });
});
