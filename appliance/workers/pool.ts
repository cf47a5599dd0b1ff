import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Appliance } from '../appliance';
import type { ConnRow } from '../control/snapshot';
import type { Answer, FromWorker, Report, ToWorker, WorkerStart } from './protocol';

/** How long the first worker waits for the others' answers, and for them to stop. */
const ANSWER_MS = 2000;
const STOP_MS = 2000;
const FOLLOW_MS = 100;

interface Member {
  worker: Worker;
  report: Report | undefined;
  stopped: boolean;
}

/**
 * The other workers, as the first one (the main thread) runs them: started one at a time, so
 * that worker k attaches queue k of every device (the kernel numbers queues in the order they
 * attach, and the steering program's port modulo N names them); fed what only the first one
 * learns; asked, and summed, for the control socket. A worker that fails stops the appliance:
 * its share of the connections cannot move to another (`onFailure`).
 */
export class WorkerPool {
  private readonly members: Member[] = [];
  private follow: NodeJS.Timeout | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, (a: Answer['answer'] | undefined) => void>();
  private stopping = false;

  constructor(private readonly first: Appliance, private readonly onFailure: (why: string) => void) {}

  get size(): number {
    return this.members.length + 1;
  }

  /** Starts workers 1 .. workers-1, each once the one before has attached its queues. */
  async start(): Promise<void> {
    const pool = this.first.pool;
    this.first.dispatcher.handOver = (slot, length, to) => {
      const at = pool.ipOffset(slot);
      this.deliver(to, Uint8Array.from(pool.buf.subarray(at, at + length))); // a copy: a view would take the whole pool along
    };
    const count = this.first.config.appliance.workers;
    for (let index = 1; index < count; index++) await this.spawn(index);
    for (const m of this.members) this.send(m, { type: 'start' });
    this.follow = setInterval(() => this.sendFollow(), FOLLOW_MS);
    this.sendFollow();
  }

  private spawn(index: number): Promise<void> {
    const data: WorkerStart = { dir: this.first.config.dir, index };
    const worker = new Worker(join(__dirname, 'worker.js'), { workerData: data });
    const m: Member = { worker, report: undefined, stopped: false };
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.on('message', (msg: FromWorker) => {
        switch (msg.type) {
          case 'ready':
            ready = true;
            this.members.push(m);
            resolve();
            return;
          case 'failed':
            if (!ready) reject(new Error(`worker ${index}: ${msg.message}`));
            else this.onFailure(`worker ${index}: ${msg.message}`);
            return;
          case 'log':
            this.first.log(`worker ${index}: ${msg.message}`);
            return;
          case 'report':
            m.report = msg;
            return;
          case 'datagram':
            this.deliver(msg.to, msg.bytes);
            return;
          case 'answer':
            this.waiting.get(msg.id)?.(msg.answer);
            this.waiting.delete(msg.id);
            return;
          case 'stopped':
            m.stopped = true;
            return;
        }
      });
      worker.on('error', (e) => {
        if (!ready) reject(new Error(`worker ${index}: ${e.message}`));
        else this.onFailure(`worker ${index} failed: ${e.message}`);
      });
      worker.on('exit', (code) => {
        if (!ready) reject(new Error(`worker ${index} exited (${code}) before it was ready`));
        else if (!m.stopped && !this.stopping) this.onFailure(`worker ${index} exited (${code})`);
      });
    });
  }

  /** A handed-over datagram to worker `to`: this one's, or another's by message. */
  private deliver(to: number, bytes: Uint8Array): void {
    if (to === 0) this.first.forwarder.inject(bytes);
    else if (this.members[to - 1]) this.send(this.members[to - 1], { type: 'datagram', to, bytes });
  }

  private send(m: Member, msg: ToWorker): void {
    m.worker.postMessage(msg);
  }

  private sendFollow(): void {
    const msg: ToWorker = {
      type: 'follow',
      neighbours: this.first.forwarder.neighbours.table(),
      checkFailing: this.first.health.checkFailing,
    };
    for (const m of this.members) this.send(m, msg);
  }

  /** The others' latest reports (every REPORT_MS), for the sums. */
  reports(): Report[] {
    return this.members.flatMap((m) => (m.report ? [m.report] : []));
  }

  /** Applies `req` in every other worker too (reload, divert changes), after the first did. */
  relay(req: Record<string, unknown>): void {
    this.ask(req);
  }

  /** `req` answered by every other worker; an answer that does not come in time is left out. */
  ask(req: Record<string, unknown>): Promise<Answer['answer'][]> {
    return Promise.all(this.members.map((m) => new Promise<Answer['answer'] | undefined>((resolve) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(undefined);
      }, ANSWER_MS);
      this.waiting.set(id, (a) => {
        clearTimeout(timer);
        resolve(a);
      });
      this.send(m, { type: 'request', id, req });
    }))).then((all) => all.filter((a): a is Answer['answer'] => a !== undefined));
  }

  /** The other workers' rows for `conns`: the first `upTo` of each, as it sorts them. */
  async rows(filter: string, sort: string, upTo: number): Promise<{ total: number; matched: number; rows: ConnRow[] }[]> {
    const answers = await this.ask({ cmd: 'conns', offset: 0, limit: Math.min(10_000, upTo), filter, sort });
    return answers.filter((a) => a.ok).map((a) => ({ total: a.total ?? 0, matched: a.matched ?? 0, rows: a.rows ?? [] }));
  }

  /** Stops every other worker (each ends its connections and closes its queues), then `done`; bounded. */
  stop(done: () => void): void {
    this.stopping = true;
    if (this.follow) clearInterval(this.follow);
    if (this.members.length === 0) {
      done();
      return;
    }
    let left = this.members.length;
    const timer = setTimeout(() => {
      for (const m of this.members) void m.worker.terminate();
    }, STOP_MS);
    for (const m of this.members) {
      m.worker.once('exit', () => {
        if (--left === 0) {
          clearTimeout(timer);
          done();
        }
      });
      this.send(m, { type: 'stop' });
    }
  }
}
