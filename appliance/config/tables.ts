import type { Prefix } from './address';
import type { Destination, DivertedEntry } from '../divert/endpoint';
import type { MetricsSettings } from './metrics-ini';
import type { CaptureSettings } from './capture-ini';
import type { ExportSettings } from './export-ini';

/**
 * The configuration as the data path uses it: the patent's two configuration tables
 * (Socks ALP Configuration, Socks Server ALP Configuration) and the appliance's own settings.
 * Built once per load or reload and never mutated afterwards, so stages may cache it.
 */

export interface ApplianceSettings {
  socksPort: number;
  /** Seconds without a datagram before an established connection leaves the table (step 714). */
  idleTimeout: number;
  /** Seconds a connection may stay before its SOCKS request is complete. */
  halfOpenTimeout: number;
  maxHalfOpen: number;
  /** Seconds to wait for the chosen server's SYN-ACK before failing the client. */
  connectTimeout: number;
  maxConnections: number;
  controlSocket: string;
  /**
   * Reverse-path filtering of what comes from a server segment (forward/routes.ts), as Linux's
   * rp_filter: `strict`, its source must be routed back through that segment; `loose`, through
   * any segment.
   */
  rpFilter: 'strict' | 'loose';
  /**
   * Data-path workers (appliance/workers/): each a thread with its own queue of every device
   * (IFF_MULTI_QUEUE) and its share of the connections. `auto` in the file: one per CPU.
   */
  workers: number;
  /** Seconds the event loop may stand still before the process is ended (health/watchdog.ts); 0: never. */
  watchdog: number;
}

export interface IntranetSettings {
  tun: string;
  vips: number[];
  mtu: number;
  /** On a dedicated host (the VM): the NIC facing the intranet and the host's addresses on it, one per family. */
  nic?: string;
  address?: Prefix;
  /** The IPv6 one: `address` is an address number (addr/address.ts). */
  address6?: Prefix;
}

/** One row of `capacity_for_priority`: a datagram of priority >= `priority` wants capacity >= `capacity`. */
export interface CapacityRule {
  priority: number;
  capacity: number;
}

export interface Route {
  prefix: Prefix;
  tap: string;
  /** Next hop on the TAP's segment (the prefix's family); absent when the prefix is on the segment itself. */
  gateway?: number;
  /** The key as appliance.ini writes it (IPv6 has more than one text for a prefix), for messages. */
  key?: string;
}

/** A record of the Socks ALP Configuration table (figure 6, 602). */
export interface AlpRecord {
  name: string;
  ports: number[];
  priority: number;
  discardEligible: boolean;
}

export interface AlpTable {
  records: AlpRecord[];
  /** The default record, used for any ALP not listed. */
  fallback: AlpRecord;
}

/** SOCKS dialects a server speaks: 4a (a host name instead of an address) is not in every SOCKS4 server. */
export type SocksVersion = '4' | '4a' | '5';
export const SOCKS_VERSIONS: readonly SocksVersion[] = ['4', '4a', '5'];

/** A record of the Socks Server ALP Configuration table (figure 6, 607). */
export interface ServerRecord {
  name: string;
  /** Socks_Server_Identifier. */
  address: number;
  port: number;
  tap: string;
  /** The appliance's own address on the server's segment, and the segment itself. */
  local: Prefix;
  mac?: Uint8Array;
  /** Socks_Server_Capacity. */
  capacity: number;
  /** Socks_Server_ALP_List; `all` stands for the patent's "ALL". */
  alps: { all: true } | { all: false; names: string[] };
  isDefault: boolean;
  versions: SocksVersion[];
  queueLimit: number;
  /** On a dedicated host: the NIC this server's segment is on, bridged with the TAP. */
  nic?: string;
  /**
   * `auth = own` (servers.ini `username` and `password_file`): the RFC 1929 username and
   * password the appliance itself presents to this server, whatever the client offered
   * (nothing, or its own username and password). Such a server speaks SOCKS5 only (`versions`).
   * Absent: `auth = passthrough`, the server gets what the client sent, its own username and
   * password included. Not structural: a reload may add, change or remove credentials.
   */
  credentials?: ServerCredentials;
  /** The active health check through this server (servers.ini `check`); absent: none. */
  check?: ServerCheck;
}

/**
 * An active health check through a SOCKS server (health/checker.ts): a SOCKS CONNECT to
 * `target` from the appliance's own address, every `interval` seconds, optionally an HTTP
 * request whose status must be `status`; `rise` passes in a row bring the server up, `fall`
 * failures in a row take it down.
 */
export interface ServerCheck {
  target: Destination;
  /** The HTTP path to ask for; absent: the SOCKS reply is the check. */
  http?: string;
  status: number;
  interval: number;
  timeout: number;
  rise: number;
  fall: number;
}

/**
 * RFC 1929 credentials toward one SOCKS server. Both fields are bytes, as RFC 1929 has them,
 * 1 to 255 each. The password is a secret: read from its file at every load and reload, never
 * printed; JSON.stringify and util.inspect of this object show the file and the password's
 * length only (appliance/config/credentials.ts).
 */
export interface ServerCredentials {
  /** UNAME: the `username` of servers.ini, UTF-8 encoded. */
  readonly username: Buffer;
  /** PASSWD: the first line of `password_file`, its line end (LF or CRLF) removed. */
  readonly password: Buffer;
  /** `password_file` as resolved (a relative path is taken from the configuration directory). */
  readonly passwordFile: string;
}

export interface Config {
  dir: string;
  loadedAt: Date;
  appliance: ApplianceSettings;
  intranet: IntranetSettings;
  capacityForPriority: CapacityRule[];
  routes: Route[];
  alps: AlpTable;
  servers: ServerRecord[];
  /** appliance.ini [monitor]: the network monitor's channel; absent when `listen` is not set. */
  monitor?: MonitorSettings;
  /** appliance.ini [diversion]: the current connections and the enhanced name server. */
  diversion: DiversionSettings;
  /** appliance.ini [metrics]: the Prometheus endpoint; absent when `listen` is not set. */
  metrics?: MetricsSettings;
  /** appliance.ini [capture]: the ring of dropped datagrams; absent when `drops` is not set. */
  capture?: CaptureSettings;
  /** appliance.ini [export]: IPFIX flow export; absent when `ipfix` is not set. */
  export?: ExportSettings;
  /** diverted.ini; loadConfig always sets it (absent here only in a Config built by hand). */
  diverted?: DivertedTable;
  /** ha.ini [sync]: the HA pair's connection-state sync; absent for a single appliance. */
  ha?: import('./ha-ini').HaSettings;
}

/**
 * How routed traffic is diverted (forward/diversion.ts): the current connections' cap and
 * timeouts, in seconds since a row was last used, and the TTL of the enhanced name server's
 * answers.
 */
export interface DiversionSettings {
  maxFlows: number;
  udpTimeout: number;
  /** A TCP flow that has had an answer from its diverted destination. */
  tcpTimeout: number;
  /** A TCP flow whose SYN has had no answer yet. */
  unrepliedTimeout: number;
  dnsTtl: number;
}

/**
 * The diverted-address table as diverted.ini gives it (patent figure 2b, table 209), validated
 * (appliance/config/diverted-ini.ts). The live, changeable table is built from it:
 * `new DivertedAddresses(config.diverted.entries)` (appliance/divert/table.ts).
 */
export interface DivertedTable {
  /** diverted.ini in the configuration directory, whether or not it exists: where `save` writes. */
  path: string;
  /** false: there is no diverted.ini, and no entries. */
  present: boolean;
  /** In the file's order; originals distinct, none diverting to itself, no cycle. */
  entries: readonly DivertedEntry[];
}

/**
 * The network monitor's channel (the network-management patent's port 213): signed divert
 * commands over TCP (appliance/monitor). The key is a secret: JSON and util.inspect of it show
 * its file and length only (appliance/monitor/key.ts).
 */
export interface MonitorSettings {
  /** `listen = ADDRESS:PORT`. */
  address: number;
  port: number;
  /** HMAC-SHA256 key: the first line of `key_file`. */
  key: MonitorKey;
  /** Seconds a message's timestamp may differ from the appliance's clock. */
  maxSkew: number;
  /** Messages per second per sender address. */
  rate: number;
}

export interface MonitorKey {
  readonly bytes: Buffer;
  readonly file: string;
}
