import { expect } from 'chai';
import { PacketPool } from '../../../appliance/device/packet-pool';
import type { PacketDevice } from '../../../appliance/device/device';
import type { Drops } from '../../../appliance/forward/drops';
import { ServerHealth } from '../../../appliance/forward/health';
import { Neighbours } from '../../../appliance/forward/neighbours';
import type { Segment } from '../../../appliance/forward/segments';
import { ARP_LENGTH, ARP_REQUEST, emitArp } from '../../../appliance/wire/arp';
import { emitEthernet, ETHERTYPE_ARP, ETH_HEADER } from '../../../appliance/wire/ethernet';
import { ip } from '../wire/packets';

/**
 * Two segments whose TAPs would block; no servers. Each frame the appliance writes straight
 * to a TAP is then dropped (queue-full), and the drop names the device it was for.
 */
function setup() {
  const pool = new PacketPool(8, 1500, 1);
  const dropped: string[] = [];
  const drops = {
    dropOut: (slot: number, reason: string, device: number, ipLength: number) => {
      dropped.push(`${reason} device ${device} ${ipLength}`);
      pool.give(slot);
    },
  } as unknown as Drops;
  const full = { write: () => false } as unknown as PacketDevice;
  const seg = (n: number): Segment => ({
    tap: `alp-s${n}`, device: full, local: ip(`198.19.${n}.1`), prefix: { address: ip(`198.19.${n}.1`), length: 24 },
    local6: -1, prefix6: undefined, mac: Uint8Array.of(2, 0x53, 0x41, 19, n, 1), servers: new Map(), hosts: new Map(), also: [], alsoMacs: [], also6: [], also6Macs: [],
  });
  const n = new Neighbours(pool, [seg(1), seg(2)], [], [], new ServerHealth(0, () => undefined, []), drops, () => undefined, []);
  return { pool, n, dropped };
}

describe('forward/neighbours: frames written straight to a TAP', function () {
  it('an ARP request or reply a full TAP cannot take is dropped as queue-full of that segment\'s device', function () {
    const { pool, n, dropped } = setup();
    n.now = 1;
    // Segment 1 (device 2): a request for the route's gateway; segment 0 (device 1): the reply to an asker.
    n.resolve([{ prefix: { address: ip('203.0.113.0'), length: 24 }, segment: 1, gateway: ip('198.19.2.254') }]);
    const slot = pool.take();
    const base = pool.frameOffset(slot);
    const asker = Uint8Array.of(2, 0, 0, 0, 1, 2);
    emitEthernet(pool.buf, base, Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff), asker, ETHERTYPE_ARP);
    emitArp({ operation: ARP_REQUEST, senderMac: asker, senderIp: ip('198.19.1.2'), targetMac: new Uint8Array(6), targetIp: ip('198.19.1.1') }, pool.buf, base + ETH_HEADER);
    n.receive(0, slot, ETH_HEADER + ARP_LENGTH);
    expect(dropped).to.deep.equal([`queue-full device 2 ${ARP_LENGTH}`, `queue-full device 1 ${ARP_LENGTH}`]);
    expect(pool.available, 'every slot given back').to.equal(8);
  });
});
