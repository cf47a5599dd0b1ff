import { createServer, type Socket } from 'node:net';
import { acceptSocks5 } from './socks5-accept';

/**
 * A SOCKS5 server that accepts every request and then echoes what it gets, going nowhere: the
 * far end of the established-flow workload (flows-load.ts), so that the packets/s measured are
 * the appliance's and not Dante's or a forked echo service's (socat, sh and cat per flow).
 * Answers the greeting with "no authentication" and the request with success; TCP_NODELAY, so
 * each echo leaves as the small segment it came in.
 *
 *   node flow-echo-server.js --listen 198.19.2.2:1090
 */
const i = process.argv.indexOf('--listen');
const [host, port] = (i > 0 ? process.argv[i + 1] : '0.0.0.0:1090').split(':');
const sockets = new Set<Socket>();
const server = createServer({ noDelay: true }, (s) => {
  sockets.add(s);
  acceptSocks5(s, (rest) => {
    s.on('data', (d: Buffer) => s.write(d));
    if (rest.length > 0) s.write(rest);
  });
  s.on('error', () => s.destroy());
  s.on('close', () => sockets.delete(s));
});
server.listen({ host, port: Number(port), backlog: 4096 }, () => process.stderr.write(`flow-echo-server on ${host}:${port}\n`));
process.on('SIGTERM', () => {
  for (const s of sockets) s.resetAndDestroy();
  process.exit(0);
});
