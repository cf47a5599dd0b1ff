import { createSocket } from 'node:dgram';
import { loadConfig } from '../../appliance/config/load';
import { SyncStandby } from '../../appliance/sync/standby';
import { serversHash } from '../../appliance/sync/pair';

/**
 * The other appliance of an HA pair, as far as the sync goes (issue 16): a standby with the
 * configuration's key and servers on `--listen`, printing after each datagram a JSON line of
 * what it holds (client, server, allocated port), what it has counted and what it refused.
 *
 *   node sync-peer.js --config DIR --listen 198.18.0.1:7501
 */
function arg(name: string): string {
  const i = process.argv.indexOf(name);
  if (i < 0 || i + 1 >= process.argv.length) throw new Error(`usage: sync-peer --config DIR --listen ADDRESS:PORT (${name} missing)`);
  return process.argv[i + 1];
}

const config = loadConfig(arg('--config'));
if (!config.ha) throw new Error('the configuration has no ha.ini');
const [host, port] = arg('--listen').split(':');
const standby = new SyncStandby({
  key: config.ha.key.bytes,
  serverHash: serversHash(config.servers),
  maxEntries: 1_000_000,
});
const quiet = process.argv.includes('--quiet');
const socket = createSocket('udp4');
socket.on('message', (m) => {
  standby.receive(m);
  if (quiet) return;
  const clients = [...standby.connections()].map((h) => ({
    // IPv4 clients are IPv4-mapped in the entry (the lab's client is IPv4).
    client: `${h.client.v6 ? Buffer.from(h.client.address).toString('hex') : h.client.address.slice(12).join('.')}:${h.client.port}`,
    server: config.servers[h.server]?.name ?? `#${h.server}`,
    port: h.allocPort,
    alp: h.alp,
  }));
  process.stdout.write(JSON.stringify({ held: clients, stats: standby.stats, refused: standby.refused }) + '\n');
});
socket.bind(Number(port), host, () => process.stderr.write(`sync-peer on ${host}:${port}\n`));
process.on('SIGTERM', () => socket.close(() => process.exit(0)));
