import { expect } from 'chai';
import { SyncStandby } from '../../../appliance/sync/standby';
import { signSync, SYNC_MAC } from '../../../appliance/wire/sync';
import { CLIENT6, connection, KEY, LOCAL, sender, SERVER_HASH, VIP6 } from './fixtures';

/** Issue 16's sync end to end without sockets: a sender's datagrams fed to a standby. */

const mapped = (last: number[]): Uint8Array => Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...last);
const standby = (maxEntries = 100): SyncStandby => new SyncStandby({ key: KEY, serverHash: SERVER_HASH, maxEntries });

describe('sync: sender to standby', function () {
  it('reproduces the spliced connections, with their changes, less the ended ones', function () {
    const { s, sent } = sender();
    s.spliced(connection(40001));
    s.spliced(connection(40002, { alp: 1, diverted: '203.0.113.81:21' }));
    s.spliced(connection(443, { clientIp: CLIENT6, vip: VIP6 }));
    s.flush();
    s.changed(connection(40002, { state: 6, finFromClient: true, finFromServer: true, upNext: 77, downNext: 88, winToClient: 1, winToServer: 2, closeAt: 30, diverted: '203.0.113.82:21' }));
    s.ended(connection(40001).clientIp, 40001);
    s.flush();
    const b = standby();
    for (const d of sent) expect(b.receive(d)).to.equal(true);
    expect(b.size).to.equal(2);
    const all = [...b.connections()];
    expect(all.map((c) => [c.client.port, c.client.v6, c.vip.v6])).to.deep.equal([[40002, false, false], [443, true, true]]);
    expect(all[0]).to.deep.include({
      client: { address: mapped([198, 18, 0, 2]), port: 40002, v6: false }, vip: { address: mapped([198, 18, 0, 1]), port: 1080, v6: false },
      allocPort: 12002, server: 1, serverMac: Uint8Array.of(2, 0, 0, 0, 2, 2), alp: 'ftp', destination: 'web.socksalp.test:80',
      state: 6, finFromClient: true, finFromServer: true, upNext: 77, downNext: 88, winToClient: 1, winToServer: 2,
      closeAtMs: 1_796_000_030_000, diverted: '203.0.113.82:21', delta: -300, clientIsn: 0x80000001, createdMs: 1_796_000_012_500, sender: 0xa1,
    });
    expect(all[1].client.address).to.deep.equal(Uint8Array.from(Buffer.from('20010db8001800000000000000000002', 'hex')));
    expect(b.stats).to.deep.equal({ datagrams: 2, spliced: 3, ended: 1, changed: 1, unknown: 0, expired: 0 });
  });

  it('notes as the sender\'s own server-leg addresses only those of connections it opened, not those it took over', function () {
    // Opener 3 stands for another member's 198.19.1.4 (flow/openers.ts).
    const { s, sent } = sender({}, [], undefined, (c) => (c.opener === 0 ? LOCAL : 0xc6130104));
    s.spliced(connection(40001));
    s.spliced(connection(40002, { opener: 3 }));
    s.flush();
    const b = standby();
    for (const d of sent) expect(b.receive(d)).to.equal(true);
    expect([...b.connections()].map((c) => [c.client.port, c.peerLocal, Buffer.from(c.local.subarray(12)).toString('hex')])).to.deep.equal([[40001, false, 'c6130101'], [40002, true, 'c6130104']]);
    expect([...(b.locals.get(0xa1)?.values() ?? [])].map((e) => Buffer.from(e.address.subarray(12)).toString('hex'))).to.deep.equal(['c6130101']);
    expect(b.onServer(1, 12002)?.client.port).to.equal(40002);
  });

  it('refuses a tampered byte as mac, a replayed datagram as replay, and counts the lost ones', function () {
    const { s, sent } = sender();
    for (let p = 1; p <= 5; p++) {
      s.spliced(connection(p));
      s.flush();
    }
    const b = standby();
    expect(b.receive(sent[0])).to.equal(true);
    for (const at of [3, 40, sent[1].length - 1]) {
      const t = Buffer.from(sent[1]);
      t[at] ^= 0x20;
      expect(b.receive(t), `byte ${at}`).to.equal(false);
    }
    expect(b.refused.mac).to.equal(3);
    expect(b.receive(sent[1])).to.equal(true); // the tampered copies moved nothing
    expect(b.receive(sent[1])).to.equal(false);
    expect(b.receive(sent[0])).to.equal(false);
    expect(b.refused.replay).to.equal(2);
    expect(b.receive(sent[4])).to.equal(true); // 2 and 3 lost
    expect(b.windows.stats.lost).to.equal(2);
    expect(b.receive(sent[3])).to.equal(true); // 3 was late, not lost
    expect(b.windows.stats.lost).to.equal(1);
    expect([...b.connections()].map((c) => c.client.port)).to.deep.equal([1, 2, 5, 4]);
  });

  it('refuses another key, another server list, an old epoch, a malformed batch, and entries past max_entries', function () {
    const { s, sent } = sender({ epoch: 7 });
    s.spliced(connection(1));
    s.spliced(connection(2));
    s.flush();
    expect(new SyncStandby({ key: Buffer.from('another-key-0123456789'), serverHash: SERVER_HASH, maxEntries: 9 }).receive(sent[0])).to.equal(false);
    const other = new SyncStandby({ key: KEY, serverHash: SERVER_HASH + 1, maxEntries: 9 });
    expect(other.receive(sent[0])).to.equal(false);
    expect(other.refused.servers).to.equal(1);

    const b = standby(1);
    expect(b.receive(sent[0])).to.equal(true);
    expect(b.size).to.equal(1);
    expect(b.refused.full).to.equal(1);

    const restarted = sender({ epoch: 8 });
    restarted.s.ended(1, 1);
    restarted.s.flush();
    expect(b.receive(restarted.sent[0])).to.equal(true);
    const { s: old, sent: late } = sender({ epoch: 7 });
    old.ended(1, 1);
    old.flush();
    old.ended(1, 2);
    old.flush();
    expect(b.receive(late[1])).to.equal(false);
    expect(b.refused.staleEpoch).to.equal(1);

    // Signed, but its count says two entries where one is.
    const d = Buffer.from(restarted.sent[0]);
    d[7] = 2;
    signSync(KEY, d, 0, d.length - SYNC_MAC);
    expect(b.receive(d)).to.equal(false);
    expect(b.receive(d.subarray(0, 40))).to.equal(false);
    expect(b.refused.malformed).to.equal(2);
    expect(b.refused).to.deep.include({ mac: 0, replay: 0 });
  });

  it('counts CHANGED and ENDED entries of connections it never held', function () {
    const { s, sent } = sender();
    s.changed(connection(9));
    s.ended(connection(9).clientIp, 9);
    s.flush();
    const b = standby();
    expect(b.receive(sent[0])).to.equal(true);
    expect(b.stats).to.deep.include({ changed: 1, ended: 1, unknown: 2 });
    expect(b.size).to.equal(0);
  });

  it('sends an empty datagram as the heartbeat when due, and tells of a peer heard first or restarted', function () {
    const quiet = sender();
    quiet.s.flush();
    expect(quiet.sent, 'nothing due within the heartbeat period').to.have.lengthOf(0);
    const started: number[] = [];
    const b = new SyncStandby({ key: KEY, serverHash: SERVER_HASH, maxEntries: 10, onPeerStart: (p) => started.push(p) });
    const first = sender({ heartbeatMs: 0 });
    first.s.flush();
    first.s.flush();
    expect(first.sent).to.have.lengthOf(2);
    for (const d of first.sent) expect(b.receive(d)).to.equal(true);
    expect(started, 'once per epoch').to.deep.equal([0xa1]);
    expect(b.size).to.equal(0);
    const restarted = sender({ heartbeatMs: 0, epoch: 1001 });
    restarted.s.flush();
    expect(b.receive(restarted.sent[0])).to.equal(true);
    expect(started).to.deep.equal([0xa1, 0xa1]);
    expect(b.peers.get(0xa1)!.epoch).to.equal(1001);
  });

  it('forgets a connection whose SPLICED entry has not come again within expireMs, oldest first', function () {
    const { s, sent } = sender();
    s.spliced(connection(40001));
    s.flush();
    s.spliced(connection(40002));
    s.flush();
    const b = new SyncStandby({ key: KEY, serverHash: SERVER_HASH, maxEntries: 10, expireMs: 1 });
    expect(b.receive(sent[0])).to.equal(true);
    // The next datagram comes at least 2 ms later: the first connection was not sent again.
    for (const until = Date.now() + 3; Date.now() < until;);
    expect(b.receive(sent[1])).to.equal(true);
    expect([...b.connections()].map((c) => c.client.port)).to.deep.equal([40002]);
    expect(b.stats.expired).to.equal(1);
  });
});
