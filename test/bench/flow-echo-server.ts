import { createServer, type Socket } from 'node:net';

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
  let stage = 0;
  let pending = Buffer.alloc(0);
  const handshake = (b: Buffer) => {
    pending = Buffer.concat([pending, b]);
    if (stage === 0 && pending.length >= 2 && pending.length >= 2 + pending[1]) {
      pending = pending.subarray(2 + pending[1]);
      s.write(Buffer.from([5, 0]));
      stage = 1;
    }
    // An IPv4 CONNECT request is 10 bytes; what follows it is the flow's first data.
    if (stage === 1 && pending.length >= 10) {
      s.write(Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
      stage = 2;
      s.off('data', handshake);
      s.on('data', (d: Buffer) => s.write(d));
      if (pending.length > 10) s.write(pending.subarray(10));
    }
  };
  s.on('data', handshake);
  s.on('error', () => s.destroy());
  s.on('close', () => sockets.delete(s));
});
server.listen({ host, port: Number(port), backlog: 4096 }, () => process.stderr.write(`flow-echo-server on ${host}:${port}\n`));
process.on('SIGTERM', () => {
  for (const s of sockets) s.resetAndDestroy();
  process.exit(0);
});
