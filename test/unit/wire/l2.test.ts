import { expect } from 'chai';
import { ArpView, ARP_REQUEST, emitArp, parseArp } from '../../../appliance/wire/arp';
import { emitEthernet, EthernetView, ETHERTYPE_ARP } from '../../../appliance/wire/ethernet';
import { IcmpView } from '../../../appliance/wire/icmp';
import { UdpView } from '../../../appliance/wire/udp';
import { ip } from './packets';

const MAC_A = Uint8Array.of(0x02, 0x53, 0x41, 0x13, 0x01, 0x01);
const MAC_B = Uint8Array.of(0x52, 0xc0, 0xeb, 0x61, 0x0e, 0x6f);

describe('wire/ethernet and arp', function () {
  // Who has 198.19.1.2? Tell 198.19.1.1, broadcast, as the appliance sends it.
  const GOLDEN = Buffer.from(
    'ffffffffffff' + '025341130101' + '0806' +
    '0001' + '0800' + '06' + '04' + '0001' + '025341130101' + 'c6130101' + '000000000000' + 'c6130102', 'hex');

  it('constructs an ARP request byte for byte', function () {
    const b = Buffer.alloc(42);
    emitEthernet(b, 0, Uint8Array.of(255, 255, 255, 255, 255, 255), MAC_A, ETHERTYPE_ARP);
    emitArp({ operation: ARP_REQUEST, senderMac: MAC_A, senderIp: ip('198.19.1.1'), targetMac: new Uint8Array(6), targetIp: ip('198.19.1.2') }, b, 14);
    expect(b.toString('hex')).to.equal(GOLDEN.toString('hex'));
  });

  it('deconstructs it', function () {
    const e = new EthernetView().wrap(GOLDEN, 0, 42);
    expect(e.valid).to.equal(true);
    expect(e.etherType).to.equal(ETHERTYPE_ARP);
    expect(e.isFor(MAC_B)).to.equal(true); // broadcast
    const a = new ArpView().wrap(GOLDEN, 14, 28);
    expect(a.valid).to.equal(true);
    expect(parseArp(a)).to.deep.equal({ operation: 1, senderMac: MAC_A, senderIp: ip('198.19.1.1'), targetMac: new Uint8Array(6), targetIp: ip('198.19.1.2') });
  });

  it('tells frames for another host apart, and rejects short or foreign ARP', function () {
    const b = Buffer.from(GOLDEN);
    b.set(MAC_B, 0);
    expect(new EthernetView().wrap(b, 0, 42).isFor(MAC_A)).to.equal(false);
    expect(new EthernetView().wrap(b, 0, 42).isFor(MAC_B)).to.equal(true);
    expect(new EthernetView().wrap(b, 0, 13).valid).to.equal(false);
    expect(new ArpView().wrap(GOLDEN, 14, 27).valid).to.equal(false);
    const ipv6 = Buffer.from(GOLDEN);
    ipv6[16] = 0x86; ipv6[17] = 0xdd;
    expect(new ArpView().wrap(ipv6, 14, 28).valid).to.equal(false);
  });
});

describe('wire/icmp and udp', function () {
  it('validates and fills an echo request checksum', function () {
    const b = Buffer.from('0800000012340001' + '6162636465', 'hex');
    const v = new IcmpView().wrap(b, 0, b.length);
    expect(v.checksumValid).to.equal(false);
    v.fillChecksum();
    expect(v.checksumValid).to.equal(true);
    expect(v.type).to.equal(8);
  });

  it('checks UDP lengths and checksums', function () {
    const src = ip('198.18.0.2');
    const dst = ip('203.0.113.80');
    // Source port 5353, destination 53, length 9, checksum computed for one payload byte 0x41.
    const b = Buffer.from('14e90035' + '0009' + '0000' + '41', 'hex');
    const u = new UdpView().wrap(b, 0, 9);
    expect(u.valid).to.equal(true);
    expect(u.checksumValid(src, dst)).to.equal(true); // zero: none computed
    b.writeUInt16BE(0x1234, 6);
    expect(u.checksumValid(src, dst)).to.equal(false);
    expect(new UdpView().wrap(b, 0, 8).valid).to.equal(false);
  });
});
