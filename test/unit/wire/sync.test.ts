import { expect } from 'chai';
import { emitSyncHeader, parseSyncHeader, serverListHash, signSync, SyncHeaderView, verifySync, SYNC_HEADER, SYNC_MAC, SYNC_MAX_DATAGRAM } from '../../../appliance/wire/sync';
import {
  emitSyncEntry, parseSyncEntry, SyncEntryView, SyncKind, syncEntryLength, type ChangedRepr, type SplicedRepr,
} from '../../../appliance/wire/sync-entry';

const V4 = (a: number, b: number, c: number, d: number): Uint8Array => Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d);
const V6 = Uint8Array.from(Buffer.from('20010db8001800000000000000000002', 'hex'));

export const SPLICED: SplicedRepr = {
  kind: SyncKind.Spliced, client: { address: V4(198, 18, 0, 2), port: 40001, v6: false },
  vip: { address: V4(198, 18, 0, 1), port: 1080, v6: false }, allocPort: 12237, server: 2,
  serverMac: Uint8Array.of(0x02, 0x53, 0x41, 0x13, 0x01, 0x02), state: 4, version: 5, dialect: 5, leg: 5, priority: 7,
  discardEligible: true, finFromClient: false, finFromServer: true, clientScale: 7, serverScale: 9,
  windowShiftToClient: -2, windowShiftToServer: 2, clientIsn: 0xdeadbeef, delta: -300, upShift: 12,
  upNext: 0x7ffffff0, downNext: -5, winToClient: 502, winToServer: -1, createdMs: 1_796_000_000_123,
  local: V4(198, 19, 3, 3), local6: false, peerLocal: false,
  alp: 'http', destination: 'web.socksalp.test:80', diverted: '',
};

describe('wire/sync', function () {
  it('writes the header byte for byte and reads it back', function () {
    const b = Buffer.alloc(SYNC_HEADER + SYNC_MAC);
    const v = new SyncHeaderView().wrap(b, 0, b.length);
    const h = { version: 1, count: 3, sender: 0x01020304, epoch: 0x69000000, seq: 0xfffffffe, timeMs: 0x1a2_b3c4d5e6, serverHash: 0xcafef00d };
    expect(emitSyncHeader(h, v)).to.equal(32);
    expect(b.subarray(0, 32).toString('hex')).to.equal('53414c53' + '0100' + '0003' + '01020304' + '69000000' + 'fffffffe' + '000001a2b3c4d5e6' + 'cafef00d');
    expect(v.valid).to.equal(true);
    expect(parseSyncHeader(v)).to.deep.equal(h);
    b[0] = 0x54;
    expect(v.valid).to.equal(false);
    expect(new SyncHeaderView().wrap(b, 0, 47).valid).to.equal(false);
  });

  it('writes a SPLICED entry at its offsets', function () {
    const b = Buffer.alloc(200);
    const n = emitSyncEntry(SPLICED, b, 0);
    expect(n).to.equal(syncEntryLength(SPLICED)).and.to.equal(108 + 1 + 4 + 2 + 20 + 2);
    expect(b.subarray(0, 108).toString('hex')).to.equal(
      '01' + '14' + '9c41' + '00000000000000000000ffffc6120002' +
      '00000000000000000000ffffc6120001' + '0438' + '2fcd' + '025341130102' +
      '02' + '04' + '05' + '05' + '05' + '07' + '07' + '09' + 'fe' + '02' +
      'deadbeef' + 'fffffed4' + '0000000c' + '7ffffff0' + 'fffffffb' + '000001f6' + 'ffffffff' +
      '000001a229f1287b' + '00000000000000000000ffffc6130303');
    expect(b.subarray(108, n).toString('latin1')).to.equal('\x04http\x00\x14web.socksalp.test:80\x00\x00');
    const v = new SyncEntryView().wrap(b, 0, n);
    expect(v.length).to.equal(n);
    expect(parseSyncEntry(v)).to.deep.equal(SPLICED);
    // Taken over from another member: its address is flagged as that member's.
    const taken = { ...SPLICED, peerLocal: true };
    emitSyncEntry(taken, b, 0);
    expect(b[1]).to.equal(0x54);
    expect(parseSyncEntry(new SyncEntryView().wrap(b, 0, n))).to.deep.equal(taken);
  });

  it('writes ENDED and CHANGED entries, IPv6 clients whole', function () {
    const b = Buffer.alloc(100);
    expect(emitSyncEntry({ kind: SyncKind.Ended, client: { address: V6, port: 443, v6: true } }, b, 0)).to.equal(20);
    expect(b.subarray(0, 20).toString('hex')).to.equal('02' + '01' + '01bb' + '20010db8001800000000000000000002');
    const ch: ChangedRepr = {
      kind: SyncKind.Changed, client: { address: V6, port: 443, v6: true }, state: 6, finFromClient: true, finFromServer: true,
      upNext: 1, downNext: 2, winToClient: 3, winToServer: 4, closeAtMs: 5000, diverted: '203.0.113.81:80',
    };
    const n = emitSyncEntry(ch, b, 10);
    expect(n).to.equal(48 + 2 + 15);
    expect(b.subarray(10, 10 + 48).toString('hex')).to.equal(
      '03' + '19' + '01bb' + '20010db8001800000000000000000002' + '06000000' +
      '00000001' + '00000002' + '00000003' + '00000004' + '0000000000001388');
    expect(parseSyncEntry(new SyncEntryView().wrap(b, 10, n))).to.deep.equal(ch);
  });

  it('fits the largest SPLICED entry in one datagram, its texts cut at their bounds', function () {
    const big = { ...SPLICED, alp: 'a'.repeat(300), destination: 'd'.repeat(600), diverted: 'v'.repeat(600) };
    const b = Buffer.alloc(SYNC_MAX_DATAGRAM);
    const n = emitSyncEntry(big, b, SYNC_HEADER);
    expect(n).to.equal(syncEntryLength(big)).and.to.equal(SYNC_MAX_DATAGRAM - SYNC_HEADER - SYNC_MAC);
    expect(parseSyncEntry(new SyncEntryView().wrap(b, SYNC_HEADER, n))).to.deep.include({ alp: 'a'.repeat(255), destination: 'd'.repeat(492), diverted: 'v'.repeat(492) });
  });

  it('refuses entries that run past the datagram or are of no known kind', function () {
    const b = Buffer.alloc(200);
    const n = emitSyncEntry(SPLICED, b, 0);
    const v = new SyncEntryView();
    for (const cut of [19, 91, 107, 108, 113, n - 1]) expect(v.wrap(b, 0, cut).length, `cut at ${cut}`).to.equal(-1);
    expect(parseSyncEntry(v.wrap(b, 0, n - 1))).to.equal(undefined);
    b[0] = 9;
    expect(parseSyncEntry(v.wrap(b, 0, n))).to.equal(undefined);
    b[0] = SyncKind.Spliced;
    b.writeUInt16BE(2000, 113); // a destination's length beyond TEXT_MAX, inside a long enough view
    expect(parseSyncEntry(v.wrap(Buffer.concat([b, Buffer.alloc(2100)]), 0, 2300))).to.equal(undefined);
  });

  it('signs with a 16-byte HMAC-SHA256 trailer and refuses any changed byte', function () {
    const key = Buffer.from('the-sync-key-0123456789');
    const b = Buffer.alloc(80);
    emitSyncHeader({ version: 1, count: 1, sender: 1, epoch: 1, seq: 0, timeMs: 0, serverHash: 0 }, new SyncHeaderView().wrap(b, 0, 80));
    emitSyncEntry({ kind: SyncKind.Ended, client: { address: V6, port: 1, v6: true } }, b, 32);
    signSync(key, b, 0, 52);
    expect(verifySync(key, b, 0, 68)).to.equal(true);
    expect(verifySync(Buffer.from('another-key-0123456789'), b, 0, 68)).to.equal(false);
    for (const at of [0, 40, 60, 67]) {
      const t = Buffer.from(b);
      t[at] ^= 1;
      expect(verifySync(key, t, 0, 68), `byte ${at}`).to.equal(false);
    }
    expect(verifySync(key, b, 0, 47)).to.equal(false);
  });

  it('hashes the server list so that another order or name is told apart', function () {
    const a = serverListHash(['sa 198.19.1.2:1080', 'sb 198.19.2.2:1080']);
    expect(a).to.equal(serverListHash(['sa 198.19.1.2:1080', 'sb 198.19.2.2:1080']));
    expect(a).to.not.equal(serverListHash(['sb 198.19.2.2:1080', 'sa 198.19.1.2:1080']));
  });
});
