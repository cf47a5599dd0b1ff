import koffi, { type KoffiFunc } from 'koffi';

/**
 * The few libc calls the device layer needs, through the koffi FFI. The project's one piece
 * of C, the fdwatch addon (native/fdwatch.c), is optional: without it the I/O loop waits with
 * `poll` from here. Only appliance/device uses these.
 */
const libc = koffi.load('libc.so.6');

export const open = libc.func('int open(const char *path, int flags)') as (path: string, flags: number) => number;
export const close = libc.func('int close(int fd)') as (fd: number) => number;
export const read = libc.func('long read(int fd, uint8_t *buf, unsigned long count)') as (fd: number, buf: Uint8Array, count: number) => number;
export const write = libc.func('long write(int fd, const uint8_t *buf, unsigned long count)') as (fd: number, buf: Uint8Array, count: number) => number;
export const ioctlPtr = libc.func('int ioctl(int fd, unsigned long request, uint8_t *arg)') as (fd: number, request: number, arg: Uint8Array) => number;
export const ioctlInt = libc.func('int ioctl(int fd, unsigned long request, unsigned long arg)') as (fd: number, request: number, arg: number) => number;
export const socket = libc.func('int socket(int domain, int type, int protocol)') as (domain: number, type: number, protocol: number) => number;
export const poll = libc.func('int poll(uint8_t *fds, unsigned long nfds, int timeout)') as KoffiFunc<(fds: Uint8Array, nfds: number, timeout: number) => number>;
const strerrorFn = libc.func('const char *strerror(int errnum)') as (errnum: number) => string;

export const errno = (): number => koffi.errno();
export const strerror = (e: number): string => strerrorFn(e);

export const O_RDWR = 0o2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const EAGAIN = 11;
export const EINTR = 4;
export const EIO = 5;
export const EBADF = 9;
export const EBUSY = 16;
export const EINVAL = 22;
export const ENODEV = 19;
export const POLLIN = 0x001;
export const POLLOUT = 0x004;
export const AF_INET = 2;
export const SOCK_DGRAM = 2;
