#!/usr/bin/env python3
"""Crafted TCP segments for the hardening tests: a blind attacker's RSTs and SYNs.

  inject.py send SRC SPORT DST DPORT FLAGS SEQ... [--ack N]   one segment per SEQ
  inject.py random SRC SPORT DST DPORT FLAGS COUNT [--seed N]   COUNT segments, random SEQs
  (send and random take --rate PPS: segments a second at most, default 20000, so that a
  burst is not lost in the kernel's queues before it reaches what it attacks; and
  --bad-checksum: each segment's TCP checksum off by one bit; --fragments: each segment in two
  IPv4 fragments, 8 bytes of TCP header in the first)
  inject.py udp SRC SPORT DST DPORT TEXT [--count N]            one UDP datagram from any source
                                                                (N of them, at --rate)
  inject.py garp IFACE IP MAC                                   a gratuitous ARP (request and reply)
                                                                saying IP is at MAC, broadcast on IFACE
  inject.py capture IFACE FILE SECONDS [--max N]              what the kernel sends out of IFACE
                                                                (what a TUN/TAP's reader gets), as pcap
  inject.py next IFACE SRC SPORT DST DPORT [--timeout S]        prints seq + length of the next
                                                                segment seen from SRC:SPORT to DST:DPORT

FLAGS is a string of R (RST), S (SYN), A (ACK). Raw IPv4 sockets (IP_HDRINCL): run as root, in
the namespace the segments should leave from. Only the lab's addresses are used by the tests
that call it; nothing here checks that.
"""
import random
import socket
import struct
import sys
import time

FLAG_BITS = {'F': 0x01, 'S': 0x02, 'R': 0x04, 'P': 0x08, 'A': 0x10}


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s > 0xffff:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def segment(src: str, sport: int, dst: str, dport: int, flags: int, seq: int, ack: int, bad: bool = False) -> bytes:
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = struct.pack('!HHIIBBHHH', sport, dport, seq & 0xffffffff, ack & 0xffffffff, 5 << 4, flags, 0 if flags & 0x04 else 1024, 0, 0)
    csum = checksum(s + d + struct.pack('!BBH', 0, 6, len(tcp)) + tcp) ^ (1 if bad else 0)
    tcp = tcp[:16] + struct.pack('!H', csum) + tcp[18:]
    # The kernel fills in the IP checksum and the identification when they are 0 (raw(7)).
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, s, d)
    return ip + tcp


def udp_datagram(src: str, sport: int, dst: str, dport: int, payload: bytes) -> bytes:
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    udp = struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload
    csum = checksum(s + d + struct.pack('!BBH', 0, 17, len(udp)) + udp) or 0xffff
    udp = udp[:6] + struct.pack('!H', csum) + udp[8:]
    return struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, s, d) + udp


def fragments(datagram: bytes, ident: int) -> list:
    # RFC 791: the first 8 bytes of the payload with More Fragments, the rest at offset 1 (8 bytes).
    header, payload = bytearray(datagram[:20]), datagram[20:]
    pieces = []
    for flags_offset, part in ((0x2000, payload[:8]), (1, payload[8:])):
        h = bytearray(header)
        struct.pack_into('!HHH', h, 2, 20 + len(part), ident & 0xffff, flags_offset)
        pieces.append(bytes(h) + part)
    return pieces


def sender() -> socket.socket:
    return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)


def parse_flags(text: str) -> int:
    return sum(FLAG_BITS[c] for c in text)


def option(args: list, name: str, default: int) -> int:
    return int(args[args.index(name) + 1], 0) if name in args else default


def next_seq(iface: str, src: str, sport: int, dst: str, dport: int, timeout: float) -> int:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
    s.bind((iface, 0))
    s.settimeout(timeout)
    want = (socket.inet_aton(src), socket.inet_aton(dst), sport, dport)
    end = time.time() + timeout
    while time.time() < end:
        frame = s.recv(65535)
        if len(frame) < 14 + 40 or frame[12:14] != b'\x08\x00':
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0f) * 4
        if ip[9] != 6 or (ip[12:16], ip[16:20]) != want[:2]:
            continue
        tcp = ip[ihl:]
        p_src, p_dst, seq = struct.unpack('!HHI', tcp[:8])
        if (p_src, p_dst) != want[2:]:
            continue
        total = struct.unpack('!H', ip[2:4])[0]
        length = total - ihl - (tcp[12] >> 4) * 4
        return (seq + length + (1 if tcp[13] & 0x03 else 0)) & 0xffffffff
    raise SystemExit('no segment seen')


def capture(iface: str, path: str, seconds: float, most: int) -> None:
    # A TUN has no link header (pcap LINKTYPE_RAW, 101); a TAP carries Ethernet (1).
    with open(f'/sys/class/net/{iface}/type') as f:
        raw = f.read().strip() == '65534'
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
    s.bind((iface, 0))
    s.settimeout(0.2)
    end = time.time() + seconds
    n = 0
    with open(path, 'wb') as out:
        out.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101 if raw else 1))
        while time.time() < end and n < most:
            try:
                data, addr = s.recvfrom(65535)
            except socket.timeout:
                continue
            if addr[2] != socket.PACKET_OUTGOING:
                continue
            t = time.time()
            out.write(struct.pack('<IIII', int(t), int((t % 1) * 1e6), len(data), len(data)) + data)
            n += 1
    print(n)


def main(argv: list) -> None:
    if len(argv) < 2 or argv[1] in ('-h', '--help'):
        print(__doc__.strip())
        return
    mode = argv[1]
    if mode == 'garp':
        iface, addr, mac = argv[2], socket.inet_aton(argv[3]), bytes.fromhex(argv[4].replace(':', ''))
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((iface, 0))
        for op in (1, 2):
            arp = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, op, mac, addr, b'\xff' * 6 if op == 2 else b'\0' * 6, addr)
            s.send(b'\xff' * 6 + mac + b'\x08\x06' + arp)
        print(2)
        return
    if mode == 'capture':
        capture(argv[2], argv[3], float(argv[4]), option(argv, '--max', 100000))
        return
    if mode == 'next':
        iface, src, sport, dst, dport = argv[2], argv[3], int(argv[4]), argv[5], int(argv[6])
        timeout = float(argv[argv.index('--timeout') + 1]) if '--timeout' in argv else 5.0
        print(next_seq(iface, src, sport, dst, dport, timeout))
        return
    if mode == 'udp':
        src, sport, dst, dport = argv[2], int(argv[3]), argv[4], int(argv[5])
        count = option(argv, '--count', 1)
        rate = option(argv, '--rate', 20000)
        s = sender()
        datagram = udp_datagram(src, sport, dst, dport, argv[6].encode())
        for i in range(count):
            s.sendto(datagram, (dst, 0))
            if i % 50 == 49:
                time.sleep(50 / rate)
        print(count)
        return
    src, sport, dst, dport, flags = argv[2], int(argv[3]), argv[4], int(argv[5]), parse_flags(argv[6])
    rest = argv[7:]
    ack = option(rest, '--ack', 0)
    positional = []
    for x in rest:
        if x.startswith('--'):
            break
        positional.append(x)
    if mode == 'send':
        seqs = [int(x, 0) for x in positional]
    elif mode == 'random':
        rng = random.Random(option(rest, '--seed', 1))
        seqs = [rng.getrandbits(32) for _ in range(int(positional[0]))]
    else:
        raise SystemExit(f'unknown mode {mode}')
    rate = option(rest, '--rate', 20000)
    bad = '--bad-checksum' in rest
    s = sender()
    for i, seq in enumerate(seqs):
        datagram = segment(src, sport, dst, dport, flags, seq, ack, bad)
        for piece in (fragments(datagram, 0x5a00 + i) if '--fragments' in rest else [datagram]):
            s.sendto(piece, (dst, 0))
        if i % 50 == 49:
            time.sleep(50 / rate)
    print(len(seqs))


if __name__ == '__main__':
    main(sys.argv)
