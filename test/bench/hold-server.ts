import { createServer, type Socket } from 'node:net';
import { acceptSocks5 } from './socks5-accept';

/**
 * A SOCKS5 server that accepts every request and holds the connection open without going
 * anywhere: for the benchmark that fills the appliance's table with 100,000 idle connections,
 * where real servers (a process or thread per client) would be the limit, not the appliance.
 * Answers the greeting with "no authentication" and the request with success.
 *
 *   node hold-server.js --listen 198.19.2.2:1080
 */
const i = process.argv.indexOf('--listen');
const [host, port] = (i > 0 ? process.argv[i + 1] : '0.0.0.0:1080').split(':');
let held = 0;
const sockets = new Set<Socket>();
const server = createServer((s) => {
  sockets.add(s);
  let holding = false;
  acceptSocks5(s, () => {
    holding = true;
    held++;
  });
  s.on('error', () => s.destroy());
  s.on('close', () => {
    sockets.delete(s);
    if (holding) held--;
  });
});
server.maxConnections = 1_000_000;
server.listen({ host, port: Number(port), backlog: 8192 }, () => process.stderr.write(`hold-server on ${host}:${port}\n`));
process.on('SIGTERM', () => {
  for (const s of sockets) s.resetAndDestroy();
  process.exit(0);
});
setInterval(() => process.stderr.write(`hold-server: ${held} held\n`), 10_000).unref();
