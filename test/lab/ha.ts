import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ApplianceProcess } from './appliance-process';
import { REPO, type LabFacts } from './lab';

/**
 * The HA suites' common ground (issue 16): lab.sh's `ha` sort, the two appliances of the pair
 * as the lab made their configuration (LAB_HA_*), their health as keepalived's script asks
 * it, and polling.
 */

const SCRIPT = join(REPO, 'test', 'lab', 'lab.sh');
export const haLab = (...args: string[]): string => execFileSync('bash', [SCRIPT, 'ha', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** The global addresses on a namespace's intra0, as `ip -br addr` lists them. */
export function intraAddresses(ns: string): string[] {
  return execFileSync('ip', ['-n', ns, '-br', 'addr', 'show', 'dev', 'intra0'], { encoding: 'utf8' }).trim().split(/\s+/).slice(2).filter((a) => !a.startsWith('fe80:'));
}

/** Polls `ok` every `everyMs` (after `step`, when given) for `ms` at most; how long it took. */
export async function until(what: string, ok: () => boolean, ms: number, step?: () => Promise<void>, everyMs = 50): Promise<number> {
  const start = Date.now();
  for (;;) {
    await step?.();
    if (ok()) return Date.now() - start;
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface Health { ok: boolean; role: string; why: string }

/** `ctl health`'s answer (what keepalived's script asks), undefined while the appliance does not answer. */
export async function healthOf(app: ApplianceProcess): Promise<Health | undefined> {
  if (app.exited !== null) return undefined;
  try {
    return (await app.ask({ cmd: 'health' })).health as Health;
  } catch {
    return undefined;
  }
}

/** One appliance of the pair: 'a' (salab-app, priority 150) or 'b' (salab-app2). */
export function pairMember(facts: LabFacts, name: 'a' | 'b'): ApplianceProcess {
  const X = name.toUpperCase();
  return new ApplianceProcess(facts[`LAB_HA_${X}_CONF`], facts[`LAB_HA_${X}_SOCKET`], {}, facts[`LAB_HA_${X}_NS`]);
}

/** Starts an appliance of the pair (a backup, ha.ini's default) and waits until it answers healthy. */
export async function startMember(facts: LabFacts, name: 'a' | 'b'): Promise<ApplianceProcess> {
  const app = pairMember(facts, name);
  let h: Health | undefined;
  await until(`appliance ${name} healthy`, () => app.exited !== null || h?.ok === true, 10_000, async () => { h = await healthOf(app); });
  if (app.exited !== null) throw new Error(`appliance ${name} exited (${app.exited}):\n${app.output}`);
  return app;
}

/** Waits until `app` says it is `role` and healthy. */
export async function roleIs(app: ApplianceProcess, role: string, ms = 10_000): Promise<number> {
  let h: Health | undefined;
  return until(`${role} and healthy`, () => h?.role === role && h.ok, ms, async () => { h = await healthOf(app); });
}

export const keepalivedLogs = (facts: LabFacts): string =>
  ['A', 'B'].map((x) => `--- keepalived ${x}:\n${readFileSync(facts[`LAB_HA_${x}_KEEPALIVED_LOG`], 'utf8')}`).join('\n');

/** The result line of test/lab/ha-client.ts. */
export interface ClientResult {
  download: { port: number; bytes: number; sha256: string; status: string; longestGapMs: number; gapAtBytes: number; done: boolean };
  interactive: { port: number; carrier: string; echoes: number; failures: number; longestMs: number; pending: boolean }[];
}

/**
 * test/lab/ha-client.ts in the client's namespace: `interactive` connections and one download
 * of `path` at `rateMb` MB/s through the VIP. `progress` resolves at the first progress line
 * at or past `bytes`; `result` with the client's report.
 */
export class HaClient {
  private readonly child: ChildProcess;
  private out = '';
  private bytes = 0;
  private waiting: { at: number; resolve: () => void }[] = [];
  readonly result: Promise<ClientResult>;
  private ready!: () => void;
  private readonly started = new Promise<void>((r) => { this.ready = r; });

  constructor(facts: LabFacts, path: string, rateMb: number, interactive: number) {
    this.child = spawn('ip', ['netns', 'exec', facts.LAB_NS_CLIENT, process.execPath, join(REPO, 'dist', 'test', 'lab', 'ha-client.js'),
      '--proxy', `${facts.LAB_VIP}:1080`, '--web', facts.LAB_WEB_ADDR, '--path', path, '--rate-mb', String(rateMb), '--interactive', String(interactive)],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    this.child.stderr!.on('data', (b: Buffer) => { err += b.toString(); });
    this.result = new Promise((resolve, reject) => {
      this.child.stdout!.on('data', (b: Buffer) => {
        this.out += b.toString();
        let nl: number;
        while ((nl = this.out.indexOf('\n')) >= 0) {
          const line = this.out.slice(0, nl);
          this.out = this.out.slice(nl + 1);
          if (line === 'ready') this.ready();
          const p = /^(?:progress|downloaded) (\d+)$/.exec(line);
          if (p) {
            this.bytes = Number(p[1]);
            this.waiting = this.waiting.filter((w) => (w.at <= this.bytes ? (w.resolve(), false) : true));
          }
          if (line.startsWith('result ')) resolve(JSON.parse(line.slice(7)) as ClientResult);
          if (line.startsWith('error ')) reject(new Error(`ha-client: ${line.slice(6)}\n${err}`));
        }
      });
      this.child.once('exit', (code) => reject(new Error(`ha-client exited (${code}) without a result\n${err}`)));
    });
    this.result.catch(() => undefined);
  }

  /** Resolves once every connection is open and the download has begun; rejects when the client fails first. */
  get opened(): Promise<void> {
    return Promise.race([this.started, this.result.then(() => undefined)]);
  }

  /** Resolves once the download has `bytes` of its body; rejects when the client fails first. */
  progress(bytes: number): Promise<void> {
    if (this.bytes >= bytes) return Promise.resolve();
    return Promise.race([new Promise<void>((resolve) => this.waiting.push({ at: bytes, resolve })), this.result.then(() => {
      throw new Error(`ha-client ended at ${this.bytes} bytes, before ${bytes}`);
    })]);
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/**
 * A file of `mb` MB for the web server to serve, as lab.sh makes big.bin: an AES-CTR keystream
 * of key byte `key` (incompressible, reproducible); its sha256.
 */
export function writeKeystream(facts: LabFacts, name: string, mb: number, key: number): string {
  const c = createCipheriv('aes-128-ctr', Buffer.alloc(16, key), Buffer.alloc(16));
  const h = createHash('sha256');
  const fd = openSync(join(facts.LAB_RUN, 'www', name), 'w');
  const zero = Buffer.alloc(1_000_000);
  try {
    for (let i = 0; i < mb; i++) {
      const b = c.update(zero);
      h.update(b);
      writeSync(fd, b);
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}
