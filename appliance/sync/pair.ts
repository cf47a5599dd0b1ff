import { formatAddressPort } from '../addr/address';
import type { Appliance } from '../appliance';
import { formatSyncEndpoint, type HaSettings } from '../config/ha-ini';
import type { ServerRecord } from '../config/tables';
import type { Connection } from '../flow/connection';
import { EndReason } from '../stats/end-reason';
import { serverListHash } from '../wire/sync';
import { SyncSender } from './sender';
import { SyncStandby } from './standby';
import { SyncTransport } from './transport';

const NO_MAC = new Uint8Array(6);

/** The hash of servers.ini's list that every datagram carries (wire/sync.ts): each server as "name address:port", in order. */
export function serversHash(servers: readonly ServerRecord[]): number {
  return serverListHash(servers.map((s) => `${s.name} ${formatAddressPort(s.address, s.port)}`));
}

/**
 * Issue 16's connection-state sync of an HA pair, from ha.ini [sync]: this appliance's
 * connections go to its peers as they are spliced and as they end (the sender, batched off the
 * packet path), and what the peers send is held (the standby). Both run on every appliance of
 * the pair: the one that has connections sends them, the other holds them.
 */
export class SyncPair {
  readonly sender: SyncSender;
  readonly standby: SyncStandby;
  private readonly transport: SyncTransport;

  constructor(private readonly appliance: Appliance, private readonly ha: HaSettings) {
    const config = appliance.config;
    const serverHash = serversHash(config.servers);
    this.standby = new SyncStandby({ key: ha.key.bytes, serverHash, maxEntries: ha.maxEntries });
    this.transport = new SyncTransport(ha.listen, ha.peers, (d) => this.standby.receive(d), appliance.log);
    const neighbours = appliance.forwarder.neighbours;
    // Times on the tables' clock (seconds since the process began) as ms since 1970.
    const origin = Date.now() - performance.now();
    this.sender = new SyncSender(
      {
        sender: ha.sender,
        key: ha.key.bytes,
        serverHash,
        vipPort: config.appliance.socksPort,
        serverMac: (i) => neighbours.serverMac[i] ?? NO_MAC,
        alpName: (alp) => appliance.alps.names[alp] ?? '',
        wallMs: (t) => origin + t * 1000,
        send: (d, n) => this.transport.send(d, n),
      },
      { intervalMs: ha.intervalMs },
    );
  }

  get listen(): HaSettings['listen'] {
    return this.ha.listen;
  }

  /** Binds ha.ini's listen (rejects with the bind's error) and starts the sender's timer. */
  async start(): Promise<void> {
    await this.transport.start();
    this.sender.start();
    this.appliance.dispatcher.sync(this);
    this.appliance.log(`sync: listening on ${formatSyncEndpoint(this.ha.listen)}, sending to ${this.ha.peers.map(formatSyncEndpoint).join(', ')}`);
  }

  /** The data path's hooks (flow/transitions.ts, the end observer): entries written, nothing awaited. */
  spliced(c: Connection): void {
    this.sender.spliced(c);
  }

  ended(c: Connection): void {
    // A stop is not an end: the peer keeps the connections it holds, to serve them once it is master.
    if (c.endReason !== EndReason.Shutdown) this.sender.ended(c.clientIp, c.clientPort);
  }

  /** Sends what is queued (the connections' ends, at a stop) and closes the socket. */
  close(): Promise<void> {
    this.sender.stop();
    return this.transport.close();
  }

  /** For `ctl status` (never the key). */
  status(): object {
    return {
      listen: formatSyncEndpoint(this.ha.listen),
      peers: this.ha.peers.map(formatSyncEndpoint),
      sent: { ...this.sender.stats },
      transport: { ...this.transport.stats },
      held: this.standby.size,
      received: { ...this.standby.stats },
      refused: { ...this.standby.refused },
    };
  }
}

