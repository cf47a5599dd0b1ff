import { readFileSync } from 'node:fs';
import * as libc from './libc';

const TUNSETIFF = 0x400454ca;
const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const IFF_UP = 0x1;
const IFF_TUN = 0x0001;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const IFF_VNET_HDR = 0x4000;
const IFF_MULTI_QUEUE = 0x0100;
const TUNSETOFFLOAD = 0x400454d0;
/** We accept partial checksums and TCP super-packets of both families. */
const TUN_F_CSUM = 0x01;
const TUN_F_TSO4 = 0x02;
const TUN_F_TSO6 = 0x04;
/** struct ifreq: 16 bytes of name, then a 24-byte union. */
const IFREQ = 40;

export type DeviceKind = 'tun' | 'tap';

class DeviceError extends Error {
  constructor(readonly device: string, readonly op: string, readonly code: number) {
    super(`${device}: ${op}: ${libc.strerror(code)}`);
    this.name = 'DeviceError';
  }
}

function ifreq(name: string): Uint8Array {
  const req = new Uint8Array(IFREQ);
  Buffer.from(req.buffer).write(name, 0, 15, 'latin1');
  return req;
}

/**
 * Attaches to the TUN or TAP device `name` (IFF_NO_PI, IFF_VNET_HDR, checksum and TCP
 * segmentation offloads of both families), creating it when absent, and returns a non-blocking
 * descriptor. A device created here goes away when the descriptor closes; a persistent one made
 * beforehand (by the lab, or at boot) stays. `multiQueue`: attach as one more queue of a
 * multi-queue device (IFF_MULTI_QUEUE; the kernel wants the flag exactly when the device was
 * made with it).
 */
export function openTunTap(name: string, kind: DeviceKind, multiQueue = false): number {
  const fd = libc.open('/dev/net/tun', libc.O_RDWR | libc.O_NONBLOCK | libc.O_CLOEXEC);
  if (fd < 0) throw new DeviceError(name, 'open /dev/net/tun', libc.errno());
  const req = ifreq(name);
  const flags = (kind === 'tun' ? IFF_TUN : IFF_TAP) | IFF_NO_PI | IFF_VNET_HDR | (multiQueue ? IFF_MULTI_QUEUE : 0);
  req[16] = flags & 0xff;
  req[17] = flags >> 8;
  if (libc.ioctlPtr(fd, TUNSETIFF, req) < 0) {
    const e = libc.errno();
    libc.close(fd);
    const why = e === libc.EBUSY ? 'attach (another process has it open: is another appliance running?)'
      : e === libc.EINVAL && multiQueue !== isMultiQueue(name) ? `attach (it was made ${multiQueue ? 'single' : 'multi'}-queue: \`ip tuntap add\` it ${multiQueue ? 'with' : 'without'} multi_queue)`
      : kind === 'tun' ? 'attach as TUN (is it a TAP?)' : 'attach as TAP (is it a TUN?)';
    throw new DeviceError(name, why, e);
  }
  if (libc.ioctlInt(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0) {
    const e = libc.errno();
    libc.close(fd);
    throw new DeviceError(name, 'enable offloads', e);
  }
  try {
    setUp(name);
  } catch (e) {
    libc.close(fd);
    throw e;
  }
  return fd;
}

/** Sets IFF_UP, as `ip link set NAME up` would. */
function setUp(name: string): void {
  const s = libc.socket(libc.AF_INET, libc.SOCK_DGRAM, 0);
  if (s < 0) throw new DeviceError(name, 'socket', libc.errno());
  try {
    const req = ifreq(name);
    if (libc.ioctlPtr(s, SIOCGIFFLAGS, req) < 0) throw new DeviceError(name, 'get flags', libc.errno());
    if ((req[16] & IFF_UP) === 0) {
      req[16] |= IFF_UP;
      if (libc.ioctlPtr(s, SIOCSIFFLAGS, req) < 0) throw new DeviceError(name, 'set up', libc.errno());
    }
  } finally {
    libc.close(s);
  }
}

/** Whether the interface exists and was made multi-queue (IFF_MULTI_QUEUE in its sysfs tun_flags). */
export function isMultiQueue(name: string): boolean {
  try {
    return (Number.parseInt(readFileSync(`/sys/class/net/${name}/tun_flags`, 'utf8'), 16) & IFF_MULTI_QUEUE) !== 0;
  } catch {
    return false;
  }
}
