import { expect } from 'chai';
import { parseSyncHeader, SyncHeaderView, SYNC_HEADER, SYNC_MAC, SYNC_MAX_DATAGRAM, verifySync } from '../../../appliance/wire/sync';
import { parseSyncEntry, SyncEntryView, SyncKind, type SyncEntryRepr } from '../../../appliance/wire/sync-entry';
import { startEpoch } from '../../../appliance/sync/sender';
import { CLIENT6, connection, KEY, sender, SERVER_HASH, VIP6 } from './fixtures';

/** The entries of one datagram, read back with the wire format's own parser. */
function entries(d: Buffer): SyncEntryRepr[] {
  const out: SyncEntryRepr[] = [];
  const v = new SyncEntryView();
  for (let at = SYNC_HEADER; at < d.length - SYNC_MAC; at += v.length) out.push(parseSyncEntry(v.wrap(d, at, d.length - SYNC_MAC - at))!);
  return out;
}

const mapped = (last: number[]): number[] => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...last];

describe('sync/sender', function () {
  it('writes a spliced connection whole, and sends it on flush, signed and numbered', function () {
    const { s, sent } = sender();
    expect(s.spliced(connection(40001, { alp: 1, discardEligible: true, diverted: '203.0.113.81:21' }))).to.equal(true);
    expect(sent).to.have.lengthOf(0);
    s.flush();
    s.flush(); // nothing more to send
    expect(sent).to.have.lengthOf(1);
    const d = sent[0];
    expect(verifySync(KEY, d, 0, d.length)).to.equal(true);
    const h = parseSyncHeader(new SyncHeaderView().wrap(d, 0, d.length));
    expect(h).to.deep.include({ version: 2, count: 1, sender: 0xa1, epoch: 1000, seq: 0, serverHash: SERVER_HASH });
    const [e] = entries(d);
    expect(e).to.deep.equal({
      kind: SyncKind.Spliced, client: { address: Uint8Array.from(mapped([198, 18, 0, 2])), port: 40001, v6: false },
      vip: { address: Uint8Array.from(mapped([198, 18, 0, 1])), port: 1080, v6: false }, allocPort: 12001, server: 1,
      serverMac: Uint8Array.of(2, 0, 0, 0, 2, 2), state: 4, version: 5, dialect: 5, leg: 5, priority: 7,
      discardEligible: true, finFromClient: false, finFromServer: false, clientScale: 7, serverScale: 9,
      windowShiftToClient: -2, windowShiftToServer: 2, clientIsn: 0x80000001, delta: -300, upShift: 0,
      upNext: 0x7ffffff0, downNext: -5, winToClient: 502, winToServer: 1024, createdMs: 1_796_000_012_500,
      local: Uint8Array.from(mapped([198, 19, 1, 1])), local6: false, peerLocal: false, alp: 'ftp', destination: 'web.socksalp.test:80', diverted: '203.0.113.81:21',
    });
    expect(s.stats).to.deep.equal({ datagrams: 1, entries: 1, dropped: 0, bytes: d.length });
  });

  it('writes IPv6 addresses whole, CHANGED and ENDED entries', function () {
    const { s, sent } = sender();
    const c = connection(443, { clientIp: CLIENT6, vip: VIP6, state: 6, finFromClient: true, finFromServer: true, closeAt: 20, diverted: 'x:1' });
    s.spliced(c);
    s.changed(c);
    s.ended(CLIENT6, 443);
    s.flush();
    const [sp, ch, en] = entries(sent[0]);
    const client = { address: Uint8Array.from(Buffer.from('20010db8001800000000000000000002', 'hex')), port: 443, v6: true };
    expect(sp).to.deep.include({ client, vip: { address: Uint8Array.from(Buffer.from('20010db8001800000000000000000001', 'hex')), port: 1080, v6: true } });
    expect(ch).to.deep.equal({
      kind: SyncKind.Changed, client, state: 6, finFromClient: true, finFromServer: true,
      upNext: 0x7ffffff0, downNext: -5, winToClient: 502, winToServer: 1024, closeAtMs: 1_796_000_020_000, diverted: 'x:1',
    });
    expect(en).to.deep.equal({ kind: SyncKind.Ended, client });
  });

  it('seals a full datagram under 1400 bytes and sends it at the next turn of the loop', async function () {
    const { s, sent } = sender();
    for (let p = 1; p <= 67; p++) s.ended(0xc6120002, p); // 32 + 67 * 20 + 16 = 1388
    expect(sent).to.have.lengthOf(0);
    s.ended(0xc6120002, 68);
    await new Promise((r) => setImmediate(r));
    expect(sent.map((d) => d.length)).to.deep.equal([1388]);
    s.flush();
    expect(sent.map((d) => d.length)).to.deep.equal([1388, 32 + 20 + 16]);
    expect(sent.map((d) => parseSyncHeader(new SyncHeaderView().wrap(d, 0, d.length)).seq)).to.deep.equal([0, 1]);
    for (let i = 0; i < 60; i++) s.spliced(connection(1000 + i, { destination: 'd'.repeat(600), diverted: 'v'.repeat(600) })); // texts cut at 500 bytes
    s.flush();
    expect(Math.max(...sent.map((d) => d.length))).to.be.at.most(SYNC_MAX_DATAGRAM);
    expect(sent.slice(2).every((d) => verifySync(KEY, d, 0, d.length))).to.equal(true);
    expect(s.stats.entries).to.equal(128);
  });

  it('drops entries, counted, when every queued datagram is unsent', function () {
    const { s, sent } = sender({ queue: 2 });
    for (let p = 1; p <= 67 * 2 + 5; p++) s.ended(0xc6120002, p);
    expect(s.stats).to.deep.include({ entries: 67 * 2, dropped: 5 });
    s.stop();
    expect(sent).to.have.lengthOf(2);
    expect(s.spliced(connection(9))).to.equal(true); // room again
  });

  it('starts a new epoch rather than reuse a sequence number', function () {
    const { s, sent } = sender();
    (s as unknown as { seq: number }).seq = 0xffffffff;
    s.ended(1, 1);
    s.flush();
    s.ended(1, 2);
    s.flush();
    expect(sent.map((d) => { const h = new SyncHeaderView().wrap(d, 0, d.length); return [h.epoch, h.seq]; })).to.deep.equal([[1000, 0xffffffff], [1001, 0]]);
  });

  it('starts in a higher epoch when restarted a moment later, for 34 years', function () {
    const t = Date.UTC(2026, 11, 2, 12);
    expect(startEpoch(t + 300)).to.be.greaterThan(startEpoch(t));
    expect(startEpoch(t + 1000) - startEpoch(t)).to.equal(4);
    expect(startEpoch(Date.UTC(2060, 0, 1))).to.be.below(2 ** 32).and.to.be.greaterThan(startEpoch(t));
  });
});
