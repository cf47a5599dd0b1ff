import { createSocket, type Socket } from 'node:dgram';
import type { SyncEndpointSetting } from '../config/ha-ini';

/**
 * Issue 16's channel between the pair: one UDP socket on ha.ini's `listen`, sending each
 * datagram to every peer and handing what arrives to `receive` (the standby). A control
 * channel on the host's own stack, not the data path: one datagram per interval_ms, more only in a burst of new connections.
 */
export class SyncTransport {
  readonly stats = { sent: 0, sendErrors: 0, received: 0 };
  private socket: Socket | undefined;

  constructor(
    private readonly listen: SyncEndpointSetting,
    private readonly peers: readonly SyncEndpointSetting[],
    private readonly receive: (datagram: Buffer) => void,
    private readonly log: (message: string) => void,
  ) {}

  /** Binds `listen`; resolves once bound, rejects with the bind's error. */
  start(): Promise<void> {
    const s = createSocket({ type: this.listen.v6 ? 'udp6' : 'udp4', reuseAddr: false });
    this.socket = s;
    s.on('message', (m) => {
      this.stats.received++;
      this.receive(m);
    });
    return new Promise((resolve, reject) => {
      s.once('error', reject);
      s.bind(this.listen.port, this.listen.host, () => {
        s.off('error', reject);
        s.on('error', (e) => this.log(`sync: ${e.message}`));
        resolve();
      });
    });
  }

  /** The port bound (listen's, or the one the system chose for port 0). */
  get port(): number {
    return this.socket?.address().port ?? 0;
  }

  /** SyncSender's `send`: the bytes are copied, since the sender reuses its buffer at once. */
  send(datagram: Buffer, length: number): void {
    const s = this.socket;
    if (s === undefined) return;
    const copy = Buffer.from(datagram.subarray(0, length));
    for (const p of this.peers) {
      s.send(copy, p.port, p.host, (e) => {
        if (e) this.stats.sendErrors++;
        else this.stats.sent++;
      });
    }
  }

  close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    return s === undefined ? Promise.resolve() : new Promise((resolve) => s.close(() => resolve()));
  }
}
