import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, type LabFacts } from '../lab/lab';
import { ApplianceProcess, configCopy } from '../lab/appliance-process';

/**
 * Issue 16's bench row: the appliance as the master of an HA pair, sending every connection's
 * splice and end to a standby (test/lab/sync-peer.ts, a SyncStandby holding them, as the other
 * appliance does), against the same appliance alone. The standby runs on the same two cores,
 * as the peer appliance would in the lab.
 */

/** The appliance's sync socket and the standby's, on the appliance host's intranet address (as sync.test.ts). */
const LISTEN = '198.18.0.1:7500';
const PEER = '198.18.0.1:7501';
const KEY = 'bench-sync-key-0123456789abcdef';

/** `measure(proxy, pid)`: the bench's workloads through the appliance just started. */
export async function measureSynced<F>(lab: LabFacts, socket: string, measure: (pid: number) => F): Promise<F & { held: number }> {
  const conf = configCopy({ 'appliance.ini': { control_socket: socket, vip: lab.LAB_VIP } });
  writeFileSync(join(conf, 'ha.key'), `${KEY}\n`, { mode: 0o600 });
  writeFileSync(join(conf, 'ha.ini'), `[sync]\nlisten = ${LISTEN}\npeers = ${PEER}\nkey_file = ha.key\nrole = master\n`);
  const peer = spawn('ip', ['netns', 'exec', lab.LAB_NS_APP, process.execPath, join(REPO, 'dist', 'test', 'lab', 'sync-peer.js'), '--config', conf, '--listen', PEER, '--quiet'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    peer.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      if (err.includes('sync-peer on')) resolve();
    });
    peer.once('exit', (code) => reject(new Error(`sync-peer exited (${code}): ${err}`)));
  });
  const app = new ApplianceProcess(conf, socket);
  try {
    await app.ready();
    const f = measure(app.pid);
    const st = (await app.ask({ cmd: 'status' })).status as { sync: { sent: { entries: number; dropped: number } } };
    process.stderr.write(`bench: synced: ${JSON.stringify(st.sync.sent)}\n`);
    return { ...f, held: st.sync.sent.entries };
  } finally {
    peer.kill('SIGTERM');
    await app.stop();
    ApplianceProcess.cleanup(conf);
  }
}
