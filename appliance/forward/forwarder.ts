import type { Config, Route } from '../config/tables';
import { CaptureSwitch } from '../capture/capture-switch';
import { DropCapture } from '../capture/drop-capture';
import { Device, type OpenDevice, type PacketDevice } from '../device/device';
import type { PacketPool } from '../device/packet-pool';
import type { Dispatcher, Sink, Stages } from '../flow/dispatcher';
import { Demux } from './demux';
import { Demux6 } from './demux6';
import { Validator6 } from './validate6';
import { Reassembler6 } from './reassembly6';
import { DeviceWatch } from './device-watch';
import { Diversion } from './diversion';
import { Drops } from './drops';
import { ServerEgress } from './egress';
import type { ServerHealth } from './health';
import { Icmp } from './icmp';
import { Icmp6 } from './icmp6';
import { OnLink6 } from './on-link6';
import { ICMPV6_PARAMETER_PROBLEM, ICMPV6_TIME_EXCEEDED, TIME_EXCEEDED_REASSEMBLY } from '../wire/icmpv6';
import { Ingress } from './ingress';
import { Neighbours } from './neighbours';
import { Output } from './output';
import { Reassembler } from './reassembly';
import { Router, type Hop } from './routes';
import { RouteTable6 } from './route-table6';
import { Router6 } from './routes6';
import { Diversion6 } from './diversion6';
import { buildSegments, TAP_MTU, type Segment } from './segments';
import { Validator } from './validate';

/**
 * The forwarder: the device side of the appliance. Reads the TUN and the TAPs (Ingress),
 * checks every datagram once (Validator), answers ARP and ND (Neighbours) and ICMP echo (Icmp), hands
 * SOCKS segments to the dispatcher (Demux), routes the rest (Router, patent step 703), and
 * writes what comes back through per-server output queues with congestion control and
 * Ethernet framing onto the TAPs, or onto the TUN (Output). This class only puts them
 * together, for the dispatcher (Sink) and the I/O loop.
 */
export class Forwarder implements Sink {
  readonly tun: PacketDevice;
  readonly segments: Segment[];
  /** Server index -> segment index. */
  readonly serverSegment: number[];
  /** The servers' output queues with congestion control, and their counters. */
  readonly egress: ServerEgress;
  readonly reassembler: Reassembler;
  readonly reassembler6: Reassembler6;
  private readonly checks6: Validator6;
  /** Drops by reason, for the status. */
  readonly drops: Drops['byReason'];
  /** What the parts lose (drops, internal errors), counted and logged once; `drops` is its table. */
  private readonly lost: Drops;
  /** ARP and ND (workers read and adopt its table: appliance/workers/). */
  readonly neighbours: Neighbours;
  private readonly output: Output;
  private readonly router: Router;
  private readonly icmp: Icmp;
  private readonly routes6: RouteTable6;
  private readonly router6: Router6;
  /** The routes of both families, whose gateways the neighbours keep resolved. */
  private gateways: readonly Hop[] = [];
  /** The appliance's own ICMPv6; `stats` for the status. */
  readonly icmp6: Icmp6;
  private readonly checks: Validator;
  private readonly demux: Demux;
  private readonly ingress: Ingress;
  /** Devices that vanish and come back. */
  readonly watch: DeviceWatch;
  /** Routed traffic the diverted-address table diverts: the current connections, the name server. */
  readonly diversion: Diversion;
  /** Which drop ring runs ([capture]), across reloads and the stop. */
  private readonly captures: CaptureSwitch<DropCapture>;

  constructor(
    readonly pool: PacketPool,
    config: Config,
    stages: Stages,
    private readonly health: ServerHealth,
    log: (message: string) => void,
    open: OpenDevice = (name, kind) => new Device(name, kind, pool),
  ) {
    this.tun = open(config.intranet.tun, 'tun');
    const { segments, serverSegment } = buildSegments(config.servers, open);
    this.segments = segments;
    this.serverSegment = serverSegment;
    this.lost = new Drops(pool, log);
    this.drops = this.lost.byReason;
    this.egress = new ServerEgress(config.servers, pool, stages.alps.size);
    // At most 4 MiB of fragments held, 30 s for a datagram to complete.
    this.reassembler = new Reassembler(pool, 4 << 20, 30);
    this.reassembler6 = new Reassembler6(pool, 4 << 20);
    this.egress.lost = this.reassembler.lost = this.reassembler6.lost = this.lost;
    this.neighbours = new Neighbours(pool, this.segments, this.serverSegment, config.servers, health, this.lost, log, this.egress.stats);
    this.output = new Output(pool, this.tun, this.segments, this.serverSegment, this.egress, this.neighbours, this.lost);
    this.icmp = new Icmp(pool, this.output, this.neighbours, this.lost);
    this.router = new Router(this.segments, this.neighbours, this.icmp, this.output, this.lost);
    this.diversion = new Diversion(pool, this.segments, this.router, this.neighbours, this.output, this.lost, config.diversion, log);
    this.diversion.table = stages.diversions;
    this.checks = new Validator(pool, this.reassembler, this.lost);
    this.routes6 = new RouteTable6(this.segments);
    const link6 = new OnLink6(pool, this.neighbours);
    this.icmp6 = new Icmp6(pool, this.segments, this.routes6, link6, this.output, this.lost, log);
    this.router6 = new Router6(pool, this.segments, this.routes6, this.router, link6, this.icmp6, this.output, this.lost, config.intranet.mtu, TAP_MTU);
    this.checks6 = new Validator6(pool, this.reassembler6, this.lost);
    // Reassembly's errors (RFC 8200 4.5): it takes only datagrams to the appliance, so the
    // destination says where they came from.
    this.checks6.problem = (slot, code, pointer) => this.icmp6.aboutOwn(slot, ICMPV6_PARAMETER_PROBLEM, code, pointer);
    this.reassembler6.timeExceeded = (slot) => this.icmp6.aboutOwn(slot, ICMPV6_TIME_EXCEEDED, TIME_EXCEEDED_REASSEMBLY, 0);
    const diversion6 = new Diversion6(pool, this.segments, this.diversion, this.routes6, this.icmp6, link6, this.output, this.lost, config.intranet.mtu, TAP_MTU);
    const v6 = new Demux6(pool, this.segments, this.checks6, this.router, this.router6, this.icmp6, this.egress, this.lost, this.neighbours, diversion6);
    this.demux = new Demux(pool, this.segments, this.checks, this.neighbours, this.icmp, this.router, this.diversion, this.egress, this.lost, v6);
    this.ingress = new Ingress(pool, this.tun, this.segments, this.demux, this.lost);
    this.setAddresses(config.routes, config.intranet.vips);
    this.router.loose = this.router6.loose = config.appliance.rpFilter === 'loose';
    const serversOn = this.devices.map((_, i) => (i === 0 ? [] : serverSegment.flatMap((seg, s) => (seg === i - 1 ? [s] : []))));
    this.watch = new DeviceWatch(this.devices, serversOn, config.servers.map((s) => s.name), health, (s, why) => this.dispatcher.serverGone(s, why), log);
    // Devices, servers and their names stay as they are across reloads (appliance.ts refuses a change).
    const devices = this.devices.map((d) => d.name);
    const servers = config.servers.map((s) => s.name);
    const serverIface = serverSegment.map((seg) => seg + 1);
    this.captures = new CaptureSwitch(
      (settings) => new DropCapture(settings, devices, servers, serverIface, stages.alps.names, log),
      (c) => { this.lost.capture = c; },
    );
    this.captures.set(config.capture);
  }

  /** The ring of dropped datagrams, when appliance.ini [capture] turns it on. */
  get capture(): DropCapture | undefined {
    return this.lost.capture;
  }

  /** Writes what the capture holds and closes its file (stop), after any switch in flight; a second at most. */
  closeCapture(): Promise<void> {
    return this.captures.close(1000);
  }

  /** Set once, after construction: the dispatcher is built with this forwarder as its Sink. */
  get dispatcher(): Dispatcher {
    return this.demux.dispatcher;
  }

  set dispatcher(d: Dispatcher) {
    this.demux.dispatcher = d;
  }

  /** Packets a bug of ours met (each dropped, the first of each kind logged). */
  get internalErrors(): number {
    return this.lost.internalErrors;
  }

  get devices(): PacketDevice[] {
    return [this.tun, ...this.segments.map((s) => s.device)];
  }

  reconfigure(stages: Stages, config: Config): void {
    this.egress.growAlps(stages.alps.size);
    this.capture?.growAlps();
    this.setAddresses(config.routes, config.intranet.vips);
    this.router.loose = this.router6.loose = config.appliance.rpFilter === 'loose';
    this.diversion.configure(stages.diversions, config.diversion);
    this.diversion.rerouted();
    this.captures.set(config.capture);
  }

  /** What a reload may change here besides the ALPs: the routes and the VIPs. */
  private setAddresses(routes: Route[], vips: number[]): void {
    this.router.set(routes);
    this.routes6.set(routes);
    this.gateways = [...this.router.hops, ...this.routes6.hops];
    this.router.vips = vips;
    this.icmp.source = vips[0];
    this.icmp6.setVips(vips);
  }

  /** Drains device `index` (0: the TUN, then one per segment); returns packets read. */
  readDevice(index: number): number {
    // One clock reading per wake-up, for the connections' times (Dispatcher.stamp).
    const ms = performance.now();
    this.dispatcher.stamp((ms * 1000) | 0, ms / 1000);
    this.icmp6.now = ms / 1000;
    return this.ingress.readDevice(index);
  }

  /**
   * A datagram another worker's TUN queue received for a connection of this one (workers/):
   * taken as if this worker had read it, and what it produced written.
   */
  inject(bytes: Uint8Array): void {
    const p = this.pool;
    const slot = bytes.length <= p.smallMaxIp ? p.take() : p.takeBig();
    if (slot < 0) {
      this.lost.drop(-1, 'pool-exhausted');
      return;
    }
    p.vnetFlags[slot] = p.gsoType[slot] = 0;
    p.buf.set(bytes, p.ipOffset(slot));
    const ms = performance.now();
    this.dispatcher.stamp((ms * 1000) | 0, ms / 1000);
    try {
      this.demux.fromIntranet(slot, bytes.length);
    } catch (e) {
      this.lost.internalError(e);
    }
    this.flush();
  }

  toIntranet(slot: number, len: number): void {
    this.output.toIntranet(slot, len);
  }

  toServer(server: number, slot: number, len: number, alp: number, priority: number, discardEligible: boolean, own: boolean): void {
    this.output.toServer(server, slot, len, alp, priority, discardEligible, own);
  }

  /** Writes what the batch queued; true when a device would block and still holds some. */
  flush(): boolean {
    return this.output.flush();
  }

  /** Bare FINs that joined the data segment before them in the TUN's queue (fin-merge.ts). */
  get finsMerged(): number {
    return this.output.fins.merged;
  }

  /** The servers' neighbour reachability (its counters, for the status). */
  get reachability() {
    return this.neighbours.reach;
  }

  /** Device `index` has something waiting to be written (for POLLOUT). */
  wantsWrite(index: number): boolean {
    return this.output.wantsWrite(index);
  }

  /** Timers: ARP and ND, reassembly, then the dispatcher's; writes what they produced. */
  tick(now: number): void {
    this.health.now = now;
    this.neighbours.now = now;
    this.checks.now = now;
    this.checks6.now = now;
    this.diversion.now = now;
    this.dispatcher.stamp((performance.now() * 1000) | 0, now);
    try {
      this.watch.check(now);
      this.neighbours.resolve(this.gateways);
      this.reassembler.expire(now);
      this.reassembler6.expire(now);
      this.diversion.expire(now);
      this.dispatcher.tick(now);
    } catch (e) {
      this.lost.internalError(e);
    }
    this.flush();
  }

  close(): void {
    this.ingress.release();
    for (const d of this.devices) d.close();
  }
}
