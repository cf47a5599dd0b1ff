import type { PacketPool } from '../device/packet-pool';
import { ArpView, ARP_LENGTH, ARP_REPLY, ARP_REQUEST, emitArp, type ArpRepr } from '../wire/arp';
import { emitEthernet, ETHERTYPE_ARP, ETH_HEADER } from '../wire/ethernet';
import type { Drops } from './drops';
import type { Neighbours } from './neighbours';
import type { Segment } from './segments';

const BROADCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

/**
 * ARP (RFC 826), the IPv4 side of neighbours.ts: answers requests for the appliance's `local`
 * address, hands every sender to the table (which keeps the ones worth it), and asks for the
 * IPv4 addresses the table wants.
 */
export class Arp {
  private readonly arp = new ArpView();
  private readonly repr: ArpRepr = { operation: 0, senderMac: new Uint8Array(6), senderIp: 0, targetMac: new Uint8Array(6), targetIp: 0 };

  constructor(
    private readonly pool: PacketPool,
    private readonly segments: readonly Segment[],
    private readonly drops: Drops,
    private readonly table: Neighbours,
  ) {}

  /** An ARP frame of `n` bytes from segment `segIndex`: learned from if worth it, answered if for us. */
  receive(segIndex: number, slot: number, n: number): void {
    const seg = this.segments[segIndex];
    const a = this.arp.wrap(this.pool.buf, this.pool.ipOffset(slot), n - ETH_HEADER);
    if (!a.valid) {
      this.drops.dropRead(slot, 'malformed-arp', n - ETH_HEADER);
      return;
    }
    const sender = a.senderIp;
    const mac = a.senderMac;
    const target = a.targetIp;
    this.table.heard(segIndex, sender, mac, a.operation === ARP_REPLY && target === seg.local);
    // The appliance's own address, or a silent ECMP peer's that it answers for (segments.ts `also`).
    const also = target === seg.local ? -1 : seg.also.indexOf(target);
    if (a.operation !== ARP_REQUEST || (target !== seg.local && also < 0)) {
      this.pool.give(slot);
      return;
    }
    // Reply in place: to the asker, from the address asked for, with that address's MAC.
    const ours = also < 0 ? seg.mac : seg.alsoMacs[also];
    const r = this.repr;
    r.operation = ARP_REPLY;
    r.targetMac.set(mac);
    r.targetIp = sender;
    r.senderMac.set(ours);
    r.senderIp = target;
    const base = this.pool.frameOffset(slot);
    emitEthernet(this.pool.buf, base, r.targetMac, ours, ETHERTYPE_ARP);
    emitArp(r, this.pool.buf, base + ETH_HEADER);
    this.table.write(segIndex, slot, ETH_HEADER + ARP_LENGTH);
  }

  /**
   * An ARP announcement (RFC 5227 3: a request with sender and target both `address`) of
   * `address` at `mac` on segment `segIndex`, broadcast from that MAC, so that the bridges
   * learn its port and the hosts that cached the address refresh it.
   */
  announce(segIndex: number, address: number, mac: Uint8Array): void {
    const slot = this.pool.take();
    if (slot < 0) return;
    const r = this.repr;
    r.operation = ARP_REQUEST;
    r.senderMac.set(mac);
    r.senderIp = address;
    r.targetMac.fill(0);
    r.targetIp = address;
    const base = this.pool.frameOffset(slot);
    emitEthernet(this.pool.buf, base, BROADCAST, mac, ETHERTYPE_ARP);
    emitArp(r, this.pool.buf, base + ETH_HEADER);
    this.table.write(segIndex, slot, ETH_HEADER + ARP_LENGTH);
  }

  /**
   * An ARP request for `target` on segment `segIndex`, to `mac` (a probe) or broadcast. A
   * segment without an IPv4 address of the appliance's has nothing to ask from.
   */
  ask(segIndex: number, target: number, mac: Uint8Array | undefined): void {
    const seg = this.segments[segIndex];
    if (seg.local < 0) return;
    const slot = this.pool.take();
    if (slot < 0) return;
    const r = this.repr;
    r.operation = ARP_REQUEST;
    r.senderMac.set(seg.mac);
    r.senderIp = seg.local;
    r.targetMac.fill(0);
    r.targetIp = target;
    const base = this.pool.frameOffset(slot);
    emitEthernet(this.pool.buf, base, mac ?? BROADCAST, seg.mac, ETHERTYPE_ARP);
    emitArp(r, this.pool.buf, base + ETH_HEADER);
    this.table.write(segIndex, slot, ETH_HEADER + ARP_LENGTH);
  }
}
