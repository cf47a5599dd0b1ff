import { buildStages } from '../../appliance/appliance';
import type { Config } from '../../appliance/config/tables';
import type { DeviceKind } from '../../appliance/device/tuntap';
import type { PacketDevice } from '../../appliance/device/device';
import { PacketPool, VNET_HDR } from '../../appliance/device/packet-pool';
import { Dispatcher } from '../../appliance/flow/dispatcher';
import { Forwarder } from '../../appliance/forward/forwarder';
import { ServerHealth } from '../../appliance/forward/health';
import { AlpRegistry } from '../../appliance/stages/alp-registry';

/**
 * A device in memory: what the fuzzer queues is read as if it came from the kernel (no
 * virtio-net header flags, as a device without offloads gives), and what the appliance writes
 * is handed to `sent`, so that a scenario can answer it.
 */
export class MemoryDevice implements PacketDevice {
  readonly fd = -1;
  failure: string | undefined;
  readonly stats = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, errors: 0 };
  readonly inbound: Buffer[] = [];

  constructor(readonly name: string, readonly kind: DeviceKind, private readonly pool: PacketPool, private readonly sent: (d: MemoryDevice, bytes: Buffer) => void) {}

  read(slot: number): number {
    const b = this.inbound.shift();
    if (b === undefined) return 0;
    const v = this.kind === 'tap' ? this.pool.tapViews[slot] : this.pool.tunViews[slot];
    const n = Math.min(b.length, v.length - VNET_HDR);
    v.fill(0, 0, VNET_HDR);
    v.set(b.subarray(0, n), VNET_HDR);
    this.stats.rxPackets++;
    return n;
  }

  write(slot: number, len: number): boolean {
    const v = this.kind === 'tap' ? this.pool.tapViews[slot] : this.pool.tunViews[slot];
    this.stats.txPackets++;
    this.sent(this, Buffer.from(v.subarray(VNET_HDR, VNET_HDR + len)));
    return true;
  }

  fail(why: string): void {
    this.failure ??= why;
  }

  close(): void {}

  reopen(): boolean {
    return this.failure === undefined;
  }
}

/**
 * The appliance's whole data path in process, as appliance.ts composes it (forwarder,
 * dispatcher, stages), on devices in memory: device 0 is the TUN, device i + 1 the TAP of
 * segment i, as in the I/O loop.
 */
export class InProcessAppliance {
  readonly pool: PacketPool;
  readonly forwarder: Forwarder;
  readonly dispatcher: Dispatcher;
  readonly devices: MemoryDevice[] = [];
  readonly logs: string[] = [];
  now = 1;

  constructor(config: Config, sent: (d: MemoryDevice, bytes: Buffer) => void) {
    this.pool = new PacketPool(4096, 1500, 16);
    const log = (m: string) => { if (this.logs.length < 1000) this.logs.push(m); };
    const stages = buildStages(config, new AlpRegistry());
    const health = new ServerHealth(config.servers.length, log, config.servers.map((s) => s.name));
    const open = (name: string, kind: DeviceKind) => {
      const d = new MemoryDevice(name, kind, this.pool, sent);
      this.devices.push(d);
      return d;
    };
    this.forwarder = new Forwarder(this.pool, config, stages, health, log, open);
    this.dispatcher = new Dispatcher(this.forwarder, health, stages, config.servers, 1460);
    this.forwarder.dispatcher = this.dispatcher;
  }

  /** Queues `bytes` on device `index` and lets the appliance read everything queued there. */
  deliver(index: number, bytes: Buffer): void {
    this.devices[index].inbound.push(bytes);
    while (this.devices[index].inbound.length > 0) this.forwarder.readDevice(index);
    this.forwarder.flush();
  }

  /** The clock moves `seconds` on; timers run. */
  advance(seconds: number): void {
    this.now += seconds;
    this.forwarder.tick(this.now);
  }

  /** Small slots in the pool that no queue, table or reassembly holds (after `drain`). */
  get freeSlots(): number {
    return this.pool.available;
  }
}
