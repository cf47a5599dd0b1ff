import { createConnection } from 'node:net';

/** The control socket could not be reached: `reason` says why, for people. */
export class ControlUnreachable extends Error {
  constructor(readonly path: string, readonly reason: string) {
    super(`cannot reach the control socket ${path}: ${reason}`);
    this.name = 'ControlUnreachable';
  }
}

/** One request on the control socket and its answer (a fresh connection per call). */
export function controlRequest(path: string, request: object, timeoutMs = 5000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let data = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new ControlUnreachable(path, `no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(JSON.stringify(request) + '\n'));
    s.on('data', (chunk: string) => {
      data += chunk;
      const nl = data.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      s.end();
      try {
        resolve(JSON.parse(data.slice(0, nl)) as Record<string, unknown>);
      } catch {
        reject(new Error(`unreadable answer from ${path}`));
      }
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? 'no appliance is running there' : e.message;
      reject(new ControlUnreachable(path, why));
    });
  });
}
