import { parseAddress } from '../../../appliance/addr/address';
import { SyncSender, type SyncedConnection, type SyncSenderOptions } from '../../../appliance/sync/sender';
import { ip } from '../wire/packets';

/** A connection as the sender reads it (flow/connection.ts's fields), spliced, on a clock where 0 s is 1796000000000 ms. */
export function connection(port: number, more: Partial<SyncedConnection> = {}): SyncedConnection {
  return {
    clientIp: ip('198.18.0.2'), clientPort: port, vip: ip('198.18.0.1'), allocPort: 12000 + port % 1000, server: 1, state: 4,
    version: 5, dialect: 5, leg: 5, priority: 7, alp: 0, discardEligible: false, finFromClient: false, finFromServer: false,
    clientScale: 7, serverScale: 9, windowShiftToClient: -2, windowShiftToServer: 2, clientIsn: 0x80000001, delta: -300, upShift: 0,
    upNext: 0x7ffffff0, downNext: -5, winToClient: 502, winToServer: 1024, created: 12.5, closeAt: 0,
    destination: 'web.socksalp.test:80', diverted: '', opener: 0, ...more,
  };
}

export const CLIENT6 = parseAddress('2001:db8:18::2')!;
export const VIP6 = parseAddress('2001:db8:18::1')!;
export const KEY = Buffer.from('the-sync-key-0123456789abcdef');
export const SERVER_HASH = 0x5e12f00d;
/** The server leg's address every fixture connection has: 198.19.1.1. */
export const LOCAL = 0xc6130101;
export const MACS = [Uint8Array.of(2, 0, 0, 0, 1, 2), Uint8Array.of(2, 0, 0, 0, 2, 2)];

/** A sender whose datagrams are copied into `sent`, or given to `send`; its connections' server legs are at `local` (LOCAL). */
export function sender(options: SyncSenderOptions = {}, sent: Buffer[] = [], send?: (d: Buffer, n: number) => void, local: (c: SyncedConnection) => number = () => LOCAL): { s: SyncSender; sent: Buffer[] } {
  const s = new SyncSender({
    sender: 0xa1, key: KEY, serverHash: SERVER_HASH, vipPort: 1080,
    serverMac: (i) => MACS[i], local, alpName: (i) => ['http', 'ftp'][i], wallMs: (t) => 1_796_000_000_000 + t * 1000,
    send: send ?? ((b, n) => sent.push(Buffer.from(b.subarray(0, n)))),
  }, { epoch: 1000, ...options });
  return { s, sent };
}
