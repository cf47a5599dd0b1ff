import type { Socket } from 'node:net';

/**
 * The server side of a SOCKS5 handshake that accepts everything, for the bench's own servers
 * (flow-echo-server.ts, hold-server.ts), which stand where Dante would be the limit: the
 * greeting answered with "no authentication", the IPv4 CONNECT request (10 bytes) with success,
 * then `connected` with what came after the request, the flow's first data.
 */
export function acceptSocks5(s: Socket, connected: (rest: Buffer) => void): void {
  let stage = 0;
  let pending = Buffer.alloc(0);
  const handshake = (b: Buffer) => {
    pending = Buffer.concat([pending, b]);
    if (stage === 0 && pending.length >= 2 && pending.length >= 2 + pending[1]) {
      pending = pending.subarray(2 + pending[1]);
      s.write(Buffer.from([5, 0]));
      stage = 1;
    }
    if (stage === 1 && pending.length >= 10) {
      s.write(Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
      s.off('data', handshake);
      connected(pending.subarray(10));
    }
  };
  s.on('data', handshake);
}
