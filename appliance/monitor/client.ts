import { createConnection } from 'node:net';
import { formatIpv6, parseIpv6 } from '../config/address';
import { signMessage } from './auth';

/**
 * HOST:PORT as --monitor and policy.ini `monitor` take it: a name or an address, IPv6 in
 * brackets (RFC 5952 6; without them the port could be the address's last group). Not
 * config/address.ts parseListen, which takes the IPv4 literal an appliance binds: the
 * monitor's host may reach that appliance by a name, over IPv6 or through a translation. An
 * IPv6 host is kept in RFC 5952's text, as every log shows addresses.
 */
export function parseHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^(.+):(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) return undefined;
  let host = m[1];
  if (host.startsWith('[') && host.endsWith(']')) {
    const b = parseIpv6(host.slice(1, -1));
    if (b === undefined) return undefined;
    host = formatIpv6(b);
  } else if (host.includes(':')) {
    return undefined;
  }
  return { host, port: Number(m[2]) };
}

/** HOST:PORT for people: an IPv6 host in brackets. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** One signed request on the monitor channel and its answer (a fresh connection per call). */
export function monitorRequest(host: string, port: number, key: Buffer, request: object, timeoutMs = 5000): Promise<Record<string, unknown>> {
  const where = formatHostPort(host, port);
  return new Promise((resolve, reject) => {
    const s = createConnection({ host, port });
    let data = '';
    let done = false;
    const finish = (f: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      f();
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`cannot reach the monitor channel ${where}: no answer within ${timeoutMs} ms`))), timeoutMs);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(signMessage(key, request) + '\n'));
    s.on('data', (chunk: string) => {
      data += chunk;
      const nl = data.indexOf('\n');
      if (nl < 0) return;
      finish(() => {
        try {
          resolve(JSON.parse(data.slice(0, nl)) as Record<string, unknown>);
        } catch {
          reject(new Error(`unreadable answer from ${where}`));
        }
      });
    });
    s.on('close', () => finish(() => reject(new Error(`the monitor channel ${where} closed the connection without an answer`))));
    s.on('error', (e: NodeJS.ErrnoException) => finish(() => reject(new Error(`cannot reach the monitor channel ${where}: ${e.code ?? e.message}`))));
  });
}
