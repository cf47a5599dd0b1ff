import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmodSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Appliance } from '../appliance';
import { alps, connections, servers, status, SORT_KEYS } from './snapshot';
import { divertCommand } from './divert';
import { flows } from './flows';
import { mergePages, sumFigures } from '../workers/merge';

/** Longest request line accepted; a client sending more is disconnected. */
const MAX_LINE = 64 * 1024;

/**
 * The control socket: newline-delimited JSON, one request per line, one answer per line.
 *   {"cmd":"status"} {"cmd":"servers"} {"cmd":"alps"} {"cmd":"snapshot"}
 *   {"cmd":"conns","offset":0,"limit":100,"filter":"http","sort":"bytes"}
 *   {"cmd":"reload"}
 *   {"cmd":"divert","op":"list"|"add"|"remove"|"save", ...}  (control/divert.ts)
 * Answers are {"ok":true,...} or {"ok":false,"error":"..."}. Mode 0600: root only.
 */
export class ControlServer {
  private server: Server | undefined;
  private readonly clients = new Set<Socket>();

  constructor(private readonly appliance: Appliance, private readonly path: string) {}

  /** Refuses to take over the socket of an appliance that is still running. */
  async listen(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o755 });
    if (await inUse(this.path)) throw new Error(`control socket ${this.path} is in use: is another appliance running?`);
    try {
      unlinkSync(this.path);
    } catch {
      // absent: nothing stale to remove
    }
    // Half-open: a client that shuts down its side after its requests still gets their answers.
    this.server = createServer({ allowHalfOpen: true }, (s) => this.serve(s));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.path, () => resolve());
    });
    chmodSync(this.path, 0o600);
  }

  private serve(s: Socket): void {
    this.clients.add(s);
    let pending = '';
    let answered: Promise<void> = Promise.resolve();
    s.setEncoding('utf8');
    s.on('data', (chunk: string) => {
      pending += chunk;
      if (pending.length > MAX_LINE) {
        s.destroy();
        return;
      }
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (line === '') continue;
        // Answers go in request order, also when one waits for the other workers.
        const answer = this.answer(line);
        answered = answered.then(() => answer).then((a) => {
          if (!s.destroyed) s.write(JSON.stringify(a) + '\n');
        });
      }
    });
    s.on('end', () => void answered.then(() => s.end()));
    s.on('error', () => s.destroy());
    s.on('close', () => this.clients.delete(s));
  }

  answer(line: string): object | Promise<object> {
    let req: Record<string, unknown>;
    try {
      req = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return { ok: false, error: 'request is not JSON' };
    }
    return answerRequest(this.appliance, req);
  }

  close(): void {
    for (const s of this.clients) s.destroy();
    this.server?.close();
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}

function inUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * A control request's answer (the control socket's, and the monitor channel's). With several
 * workers (appliance/workers/) the figures are summed over them, `conns` pages through all of
 * them (a promise), and what changes the tables is applied in the others too.
 */
export function answerRequest(a: Appliance, req: Record<string, unknown>, by?: string): object | Promise<object> {
  const pool = a.workers;
  if (pool === undefined) return answerOwn(a, req, by);
  if (req.cmd === 'conns') {
    const own = answerOwn(a, req, by) as { ok: boolean; error?: string };
    if (!own.ok) return own;
    const offset = Math.max(0, Number(req.offset ?? 0) | 0);
    const limit = Math.min(10_000, Math.max(1, Number(req.limit ?? 100) | 0));
    const filter = String(req.filter ?? '');
    const sort = String(req.sort ?? '');
    const first = connections(a, 0, Math.min(10_000, offset + limit), filter, sort);
    return pool.rows(filter, sort, offset + limit).then((others) => ({ ok: true, ...mergePages([first, ...others], offset, limit, sort) }));
  }
  const answer = answerOwn(a, req, by) as Record<string, unknown>;
  const others = pool.reports();
  const changes = req.cmd === 'reload' || (req.cmd === 'divert' && (req.op === 'add' || req.op === 'remove'));
  if (changes && answer.ok) pool.relay(req);
  if (!answer.ok) return answer;
  switch (req.cmd) {
    case 'status':
      return { ...answer, status: withWorkers(a, sumFigures(answer.status, others.map((r) => r.status))) };
    case 'servers':
      return { ...answer, servers: sumFigures(answer.servers, others.map((r) => r.servers)) };
    case 'alps':
      return { ...answer, alps: sumFigures(answer.alps, others.map((r) => r.alps)) };
    case 'snapshot':
      return {
        ...answer,
        status: withWorkers(a, sumFigures(answer.status, others.map((r) => r.status))),
        servers: sumFigures(answer.servers, others.map((r) => r.servers)),
        alps: sumFigures(answer.alps, others.map((r) => r.alps)),
      };
    default:
      return answer;
  }
}

/** The status with each worker's own share: connections, misrouted segments, its event loop. */
function withWorkers(a: Appliance, summed: unknown): object {
  const own = status(a);
  const d = own.dispatcher;
  const rows = [{ worker: 0, connections: own.connections, created: own.table.created, spliced: d.spliced, misrouted: d.misrouted, runtime: own.runtime }];
  a.workers!.reports().forEach((r, i) => {
    const s = r.status as unknown as typeof own;
    rows.push({ worker: i + 1, connections: s.connections, created: s.table.created, spliced: s.dispatcher.spliced, misrouted: s.dispatcher.misrouted, runtime: s.runtime });
  });
  return { ...(summed as object), workers: rows };
}

/** This worker's own answer. */
function answerOwn(a: Appliance, req: Record<string, unknown>, by?: string): object {
  switch (req.cmd) {
    case 'status':
      return { ok: true, status: status(a) };
    case 'servers':
      return { ok: true, servers: servers(a) };
    case 'alps':
      return { ok: true, alps: alps(a) };
    case 'snapshot':
      return { ok: true, status: status(a), servers: servers(a), alps: alps(a) };
    case 'conns': {
      const offset = Math.max(0, Number(req.offset ?? 0) | 0);
      const limit = Math.min(10_000, Math.max(1, Number(req.limit ?? 100) | 0));
      const sort = String(req.sort ?? '');
      if (sort !== '' && !SORT_KEYS.includes(sort)) return { ok: false, error: `sort is one of ${SORT_KEYS.filter(Boolean).join(', ')}` };
      return { ok: true, ...connections(a, offset, limit, String(req.filter ?? ''), sort) };
    }
    case 'flows': {
      const offset = Math.max(0, Number(req.offset ?? 0) | 0);
      const limit = Math.min(10_000, Math.max(1, Number(req.limit ?? 100) | 0));
      return { ok: true, ...flows(a, offset, limit, String(req.filter ?? '')) };
    }
    case 'reload':
      return { ok: true, reload: a.reload() };
    case 'divert':
      return divertCommand(a, req, by);
    case 'role': {
      // Issue 16: keepalived's notify scripts.
      if (a.sync === undefined) return { ok: false, error: 'not one of an HA pair: this appliance has no ha.ini' };
      if (req.role !== 'master' && req.role !== 'backup') return { ok: false, error: 'role is master or backup' };
      const r = a.sync.setRole(req.role) as { error?: string };
      return r.error === undefined ? { ok: true, ...r } : { ok: false, ...r };
    }
    case 'health': {
      // keepalived's track_script: a single appliance is healthy while it serves.
      if (a.sync !== undefined) return { ok: true, health: a.sync.health() };
      return { ok: true, health: a.serving ? { ok: true, role: 'single', why: 'serving' } : { ok: false, role: 'single', why: 'not serving' } };
    }
    default:
      return { ok: false, error: `unknown cmd ${JSON.stringify(req.cmd)}; known: status, servers, alps, snapshot, conns, flows, reload, divert, role, health` };
  }
}
