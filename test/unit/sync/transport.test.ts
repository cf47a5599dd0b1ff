import { expect } from 'chai';
import { SyncStandby } from '../../../appliance/sync/standby';
import { SyncTransport } from '../../../appliance/sync/transport';
import { connection, KEY, sender, SERVER_HASH } from './fixtures';

/** The sync over a UDP socket on the loopback (transport.ts), into a standby. */
describe('sync/transport', function () {
  it('carries a sender\'s datagrams to the peer\'s standby', async function () {
    const standby = new SyncStandby({ key: KEY, serverHash: SERVER_HASH, maxEntries: 10 });
    let arrived!: () => void;
    const done = new Promise<void>((r) => (arrived = r));
    const logged: string[] = [];
    const b = new SyncTransport({ host: '127.0.0.1', port: 0, v6: false }, [], (d) => {
      standby.receive(d);
      arrived();
    }, (m) => logged.push(m));
    await b.start();
    const a = new SyncTransport({ host: '127.0.0.1', port: 0, v6: false }, [{ host: '127.0.0.1', port: b.port, v6: false }], () => undefined, (m) => logged.push(m));
    await a.start();
    try {
      const { s } = sender({}, [], (d, n) => a.send(d, n));
      s.spliced(connection(40001));
      s.flush();
      await done;
      expect(standby.size).to.equal(1);
      expect([...standby.connections()][0].client.port).to.equal(40001);
      expect([b.stats.received, logged]).to.deep.equal([1, []]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('rejects a listen it cannot bind', async function () {
    const t = new SyncTransport({ host: '203.0.113.250', port: 7500, v6: false }, [], () => undefined, () => undefined);
    let error: unknown;
    await t.start().catch((e) => (error = e));
    expect((error as NodeJS.ErrnoException).code).to.equal('EADDRNOTAVAIL');
    await t.close();
  });
});
