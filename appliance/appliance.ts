import { formatPrefixAny } from './addr/prefix';
import type { Config } from './config/tables';
import { loadConfig } from './config/load';
import { ConfigError, formatProblem } from './config/problem';
import { PacketPool } from './device/packet-pool';
import { Device } from './device/device';
import { IoLoop } from './device/io-loop';
import { Dispatcher, type Stages } from './flow/dispatcher';
import { Forwarder } from './forward/forwarder';
import { TAP_MTU } from './forward/segments';
import { ServerHealth } from './forward/health';
import { TrafficAnalyzer } from './stages/traffic-analyzer';
import { PriorityFinder } from './stages/priority-finder';
import { ServerSelection } from './stages/server-selection';
import { RoundRobin } from './stages/schedulers/rr';
import type { Scheduler } from './stages/schedulers/scheduler';
import { AlpRegistry } from './stages/alp-registry';
import { speaks } from './flow/dialect';
import { DivertedAddresses } from './divert/table';
import { formatMac } from './config/address';
import { DEFENCES } from './defences';
import { RuntimeStats } from './stats/runtime';

/** Datagrams the pool holds: every queue at its bound could not exceed this without drops. */
const POOL_SLOTS = 16384;
const TICK_MS = 100;

/**
 * The stages of one configuration, its ALPs numbered by `alps` (adopted as the table in force).
 * `scheduler`: step 1007's (replay watches the one it passes).
 */
export function buildStages(config: Config, alps: AlpRegistry, scheduler: Scheduler = new RoundRobin()): Stages {
  const ids = alps.adopt(config.alps);
  return {
    alps,
    analyzer: new TrafficAnalyzer(config.appliance.socksPort, config.alps, ids),
    priorities: new PriorityFinder(config.alps, ids),
    selection: new ServerSelection(config.servers, config.servers.map(speaks), alps.names, config.capacityForPriority, scheduler),
    settings: config.appliance,
    servers: config.servers,
    diversions: new DivertedAddresses(config.diverted?.entries ?? []),
  };
}

export interface ReloadResult {
  ok: boolean;
  at: string;
  message: string;
}

/**
 * The running appliance: configuration, devices, the stages and the loop that drives them.
 * Owns nothing it cannot release: `stop` closes the devices (persistent ones remain).
 */
export class Appliance {
  config: Config;
  readonly pool: PacketPool;
  readonly forwarder: Forwarder;
  readonly dispatcher: Dispatcher;
  readonly health: ServerHealth;
  /** ALP ids for the process's life: a reload adds names, never renumbers (stages/alp-registry). */
  readonly alps = new AlpRegistry();
  /** The process's event-loop delay, utilization and GC pauses (stats/runtime.ts). */
  readonly runtime = new RuntimeStats();
  private readonly loop: IoLoop;
  private timer: NodeJS.Timeout | undefined;
  readonly started = Date.now();
  readonly version: string = require('../../package.json').version;
  lastReload: ReloadResult | undefined;
  /** The network monitor's channel when [monitor] listen is set (set by `run`; monitor/server.ts). */
  monitor: { stats(): object } | undefined;
  /** The IPFIX exporter when [export] ipfix is set (set by `run`; export/exporter.ts). */
  exporter: { status(): object } | undefined;
  /** The HA pair's connection-state sync when ha.ini is set (set by `run`; sync/pair.ts). */
  sync: import('./sync/pair').SyncPair | undefined;
  /** The other workers, in the first one when [appliance] workers > 1 (set by `run`; workers/pool.ts). */
  workers: import('./workers/pool').WorkerPool | undefined;

  /**
   * `worker`: which of `config.appliance.workers` this is (appliance/workers/): each attaches
   * its own queue of every device; the first steers them and owns the control side.
   */
  constructor(config: Config, readonly log: (message: string) => void, readonly worker = 0) {
    this.config = config;
    this.pool = new PacketPool(POOL_SLOTS, Math.max(config.intranet.mtu, TAP_MTU));
    const stages = buildStages(config, this.alps);
    this.health = new ServerHealth(config.servers.length, log, config.servers.map((s) => s.name));
    const queues = { workers: config.appliance.workers, steer: worker === 0 };
    this.forwarder = new Forwarder(this.pool, config, stages, this.health, log, (name, kind) => new Device(name, kind, this.pool, queues));
    const mss = Math.min(config.intranet.mtu, TAP_MTU) - 40;
    const egress = this.forwarder.egress.stats;
    this.dispatcher = new Dispatcher(this.forwarder, this.health, stages, config.servers, mss, log, (i) => egress[i].bytesIn + egress[i].bytesOut);
    this.forwarder.dispatcher = this.dispatcher;
    if (config.appliance.workers > 1) {
      this.dispatcher.setShard(worker, config.appliance.workers);
      this.forwarder.neighbours.follower = worker > 0;
    }
    const devices = this.forwarder.devices;
    this.loop = new IoLoop(
      devices,
      (i) => this.forwarder.readDevice(i),
      () => this.forwarder.flush(),
      (i) => this.forwarder.wantsWrite(i),
    );
    this.forwarder.watch.onReopened = (i) => this.loop.revive(i);
  }

  /** The per-server and per-ALP figures (stats/flow-stats.ts). */
  get flowStats() {
    return this.dispatcher.flowStats;
  }

  /** Seconds since start, as the tables count time. */
  now(): number {
    // The clock the forwarder reads once per wake-up (Dispatcher.stamp): seconds since the process began.
    return performance.now() / 1000;
  }

  /** Whether the loop runs: false before `start`, after `stop`, and while an HA backup (`pause`). */
  get serving(): boolean {
    return this.timer !== undefined;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.runtime.start();
    this.forwarder.tick(this.now());
    this.timer = setInterval(() => this.forwarder.tick(this.now()), TICK_MS);
    this.loop.start();
    if (!DEFENCES) this.log('SOCKSALP_DEFENCES=off: the RFC 5961 and window checks, reverse-path filtering and neighbour probes are off (to measure their cost; not for production)');
    const c = this.config;
    this.log(
      `running: ${c.intranet.tun} for ${c.intranet.vips.length} VIP(s), ${c.servers.length} server(s) on ` +
        this.forwarder.segments.map((s) => s.tap).join(', ') + `; SOCKS port ${c.appliance.socksPort}; readiness by ${this.loop.mechanism}`,
    );
  }

  /**
   * An HA master made backup (sync/pair.ts): the loop and the timer stop, the devices stay
   * open (what arrives waits in their queues, or is dropped there), and the table lets go of
   * its connections without a word on either leg: the new master serves them. `start` resumes.
   */
  pause(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.runtime.stop();
    this.loop.stop();
    this.dispatcher.endAll();
  }

  /**
   * Stops the loop and the timer, then closes the devices once nothing watches their
   * descriptors (at once, or after the poll thread's wait), then `done`. Harmless twice, and
   * before `start`.
   */
  stop(done?: () => void): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.runtime.stop();
    this.dispatcher.endAll(); // their records (the observers') before the devices go
    this.loop.stop(() => {
      this.forwarder.close();
      void this.forwarder.closeCapture().then(() => done?.());
    });
  }

  /**
   * SIGHUP: reads the INI files again. Invalid files are refused with the messages of
   * `socksalp check` and the running tables stay. Valid ones apply to new connections;
   * established connections keep their server. Changes that need other devices or servers
   * (TUN, TAPs, server addresses) need a restart, and say so.
   */
  reload(): ReloadResult {
    const at = new Date().toISOString();
    let next: Config;
    try {
      next = loadConfig(this.config.dir);
    } catch (e) {
      const message = e instanceof ConfigError ? e.problems.map(formatProblem).join('\n') : String(e);
      this.lastReload = { ok: false, at, message: `refused; the running configuration stays:\n${message}` };
      this.log(`reload ${this.lastReload.message}`);
      return this.lastReload;
    }
    const fixed = structuralChange(this.config, next);
    if (fixed) {
      this.lastReload = { ok: false, at, message: `refused: ${fixed} changed, which needs a restart; the running configuration stays` };
      this.log(`reload ${this.lastReload.message}`);
      return this.lastReload;
    }
    const stages = buildStages(next, this.alps);
    this.dispatcher.reconfigure(stages);
    this.forwarder.reconfigure(stages, next);
    this.config = next;
    this.lastReload = { ok: true, at, message: 'applied to new connections' };
    this.log('reload: configuration applied to new connections');
    return this.lastReload;
  }
}

/** What a reload cannot change while running: devices and the servers' identities. */
function structuralChange(a: Config, b: Config): string | undefined {
  if (a.intranet.tun !== b.intranet.tun || a.intranet.mtu !== b.intranet.mtu) return 'the TUN device';
  if (a.appliance.controlSocket !== b.appliance.controlSocket) return 'control_socket';
  if (a.appliance.workers !== b.appliance.workers) return 'workers';
  if (JSON.stringify(a.ha ?? null) !== JSON.stringify(b.ha ?? null)) return 'ha.ini';
  if (a.monitor?.address !== b.monitor?.address || a.monitor?.port !== b.monitor?.port) return '[monitor] listen';
  if (a.metrics?.address !== b.metrics?.address || a.metrics?.port !== b.metrics?.port) return '[metrics] listen';
  if (JSON.stringify(a.export) !== JSON.stringify(b.export)) return '[export]';
  // The current connections' rows are allocated once, at start.
  if (a.diversion.maxFlows !== b.diversion.maxFlows) return '[diversion] max_flows';
  if (a.servers.length !== b.servers.length) return 'the number of servers';
  for (let i = 0; i < a.servers.length; i++) {
    const x = a.servers[i];
    const y = b.servers[i];
    const mac = (s: typeof x) => (s.mac ? formatMac(s.mac) : '');
    if (x.name !== y.name || x.address !== y.address || x.port !== y.port || x.tap !== y.tap ||
      formatPrefixAny(x.local) !== formatPrefixAny(y.local) || mac(x) !== mac(y) || x.queueLimit !== y.queueLimit) {
      return `server ${x.name}'s name, address, port, tap, local, mac or queue_limit`;
    }
  }
  return undefined;
}
