import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { inspect } from 'node:util';
import { quote } from '../text/printable';
import type { ServerCredentials } from './tables';

/** RFC 1929: ULEN and PLEN are one byte each, and neither field may be empty. */
export const RFC1929_MAX = 255;

/**
 * The credentials of one server, redacted wherever an object gets printed: JSON (a snapshot, a
 * log line) and util.inspect (console.log, an error's context) show the username, the file and
 * the password's length, never the password's bytes.
 */
export class Credentials implements ServerCredentials {
  constructor(readonly username: Buffer, readonly password: Buffer, readonly passwordFile: string) {}

  toJSON(): Record<string, unknown> {
    return { username: this.username.toString('utf8'), passwordFile: this.passwordFile, password: `(${this.password.length} bytes)` };
  }

  [inspect.custom](): string {
    return `Credentials { ${describeCredentials(this)} }`;
  }
}

/** How people see credentials (what `check` prints): username, file, the password's length. */
export function describeCredentials(c: ServerCredentials): string {
  return `username ${quote(c.username.toString('utf8'))}, password_file ${quote(c.passwordFile, Infinity)} (password: ${c.password.length} bytes)`;
}

/**
 * Reads a password file as ssh reads a private key: it must be a regular file owned by root or
 * by the user running socksalp, with no permission for group or others (mode & 077 == 0); the
 * password is its first line without the line end, 1 to 255 bytes. Returns the password, or a
 * message naming the file (and the mode or owner found) that never quotes the file's content.
 * Open once and check the descriptor, so that what was checked is what is read.
 */
export function readPasswordFile(path: string): Buffer | string {
  return readSecretFile(path, 'password', 1, RFC1929_MAX, 'the most RFC 1929 allows');
}

/**
 * readPasswordFile's checks for any secret held in a file's first line (the monitor's key,
 * appliance/monitor): `what` names it in messages ("password", "key"), whose length must be
 * from `min` to `max` bytes. The messages never quote the content.
 */
export function readSecretFile(path: string, what: string, min: number, max: number, maxWhy = 'the most allowed'): Buffer | string {
  const READ_MAX = max + 3;
  const shown = quote(path, Infinity);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `${what} file ${shown} does not exist`;
    if (code === 'EACCES') return `${what} file ${shown} cannot be read by this user (uid ${uid()}): permission denied`;
    return `${what} file ${shown} cannot be opened: ${code ?? String(e)}`;
  }
  const buf = Buffer.alloc(READ_MAX);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return `${what} file ${shown} is not a regular file`;
    const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
    if ((st.mode & 0o077) !== 0) {
      return `${what} file ${shown} is accessible by group or others (mode ${mode}); it must be readable by its owner only (chmod 600)`;
    }
    if (st.uid !== 0 && st.uid !== uid()) {
      return `${what} file ${shown} is owned by uid ${st.uid}; it must be owned by root or by the user running socksalp (uid ${uid()})`;
    }
    let n = 0;
    try {
      for (let got = 1; got > 0 && n < READ_MAX; n += got) got = readSync(fd, buf, n, READ_MAX - n, null);
    } catch (e) {
      return `${what} file ${shown} cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`;
    }
    let end = buf.subarray(0, n).indexOf(0x0a);
    if (end < 0) end = n;
    else if (end > 0 && buf[end - 1] === 0x0d) end--;
    if (end === 0) return `${what} file ${shown} holds no ${what}: its first line is empty`;
    if (end > max) return `the ${what} in ${shown} is longer than ${max} bytes, ${maxWhy}`;
    if (end < min) return `the ${what} in ${shown} is ${end} bytes long; it must be at least ${min} bytes`;
    return Buffer.from(buf.subarray(0, end));
  } finally {
    buf.fill(0);
    closeSync(fd);
  }
}

function uid(): number {
  return process.getuid?.() ?? 0;
}
