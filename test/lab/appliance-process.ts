import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { controlRequest } from '../../appliance/control/client';
import { REPO, useLab, type LabFacts } from './lab';

const CLI = join(REPO, 'dist', 'appliance', 'cli', 'index.js');

/** A copy of conf/ with some keys changed: `{ 'appliance.ini': { idle_timeout: '5' } }`. */
export function configCopy(changes: Record<string, Record<string, string>>): string {
  const dir = mkdtempSync(join(tmpdir(), 'socksalp-conf-'));
  for (const f of ['appliance.ini', 'alp.ini', 'servers.ini']) copyFileSync(join(REPO, 'conf', f), join(dir, f));
  for (const [file, keys] of Object.entries(changes)) editIni(join(dir, file), keys);
  return dir;
}

/**
 * A copy of conf/ made dual-stack: the IPv6 VIP beside the IPv4 one, and the lab's IPv6
 * servers sf (Dante on the IPv6-only segment) and sc6 (the IPv6 side of sc's dual-stack
 * segment). HTTP goes to the servers named in `http` only (capacity 20 for an IPv6 one); the
 * others get gopher instead.
 */
export function dualStackCopy(lab: LabFacts, http: string[], changes: Record<string, Record<string, string>> = {}): string {
  const alps = (name: string) => (http.includes(name) ? 'http, ssl' : 'gopher');
  const dir = configCopy({
    ...changes,
    'appliance.ini': { vip: `${lab.LAB_VIP}, ${lab.LAB_VIP6}`, ...changes['appliance.ini'] },
    'servers.ini': { 'sa alps': alps('sa'), 'sc alps': alps('sc'), 'sd alps': alps('sd'), ...changes['servers.ini'] },
  });
  const section = (name: string, address: string, tap: string, local: string, versions: string) => [
    '', `[${name}]`, `address = ${address}`, 'port = 1080', `tap = ${tap}`, `local = ${local}`,
    `capacity = ${http.includes(name) ? 20 : 1}`, `alps = ${alps(name)}`, `versions = ${versions}`,
  ];
  writeFileSync(join(dir, 'servers.ini'), readFileSync(join(dir, 'servers.ini'), 'utf8') + [
    ...section('sf', lab.LAB_SERVER_SF_ADDRESS6, lab.LAB_SERVER_SF_TAP, lab.LAB_SERVER_SF_LOCAL6, '4, 5'),
    ...section('sc6', lab.LAB_SERVER_SC_ADDRESS6, lab.LAB_SERVER_SC_TAP, lab.LAB_SERVER_SC_LOCAL6, '5'),
    '',
  ].join('\n'));
  return dir;
}

/**
 * Replaces the copy's servers.ini with `sections` (servers of a test's own, off the lab), and
 * takes out the [routes] entries, which name the lab's TAPs.
 */
export function ownServers(dir: string, sections: string[]): void {
  writeFileSync(join(dir, 'servers.ini'), sections.join('\n'));
  const path = join(dir, 'appliance.ini');
  const text = readFileSync(path, 'utf8');
  const at = text.indexOf('[routes]');
  if (at >= 0) writeFileSync(path, text.slice(0, at) + text.slice(at).replace(/^(\d[\d./]* = .*)$/gm, '; $1'));
}

/** Sets `key = value` on existing lines (first occurrence, or within "[section] key" form). */
export function editIni(path: string, keys: Record<string, string>): void {
  let text = readFileSync(path, 'utf8');
  for (const [spec, value] of Object.entries(keys)) {
    const [section, key] = spec.includes(' ') ? spec.split(' ') : [undefined, spec];
    const start = section === undefined ? 0 : text.indexOf(`[${section}]`);
    if (start < 0) throw new Error(`${path}: no [${section}]`);
    const re = new RegExp(`^${key}\\s*=.*$`, 'm');
    const m = re.exec(text.slice(start));
    if (!m) throw new Error(`${path}: no ${spec}`);
    const at = start + m.index;
    text = text.slice(0, at) + `${key} = ${value}` + text.slice(at + m[0].length);
  }
  writeFileSync(path, text);
}

/** The appliance running in the lab's appliance namespace, stopped by its pid. */
export class ApplianceProcess {
  private readonly child: ChildProcess;
  output = '';
  exited: number | null = null;
  /** The signal that ended it, when one did (`exited` is -1 then); null otherwise. */
  exitSignal: NodeJS.Signals | null = null;

  /** `cli`: another build's socksalp (the bench's baseline commit), this clone's by default. */
  constructor(readonly configDir: string, readonly socket: string, env: Record<string, string> = {}, ns = 'salab-app', cli = CLI) {
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, cli, 'run', '--config', configDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.child.stdout!.on('data', (b: Buffer) => (this.output += b.toString()));
    this.child.stderr!.on('data', (b: Buffer) => (this.output += b.toString()));
    this.child.on('exit', (code, signal) => {
      this.exitSignal = signal;
      this.exited = code ?? -1;
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Waits until the control socket answers and every server is resolved. */
  async ready(timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (this.exited !== null) throw new Error(`the appliance exited (${this.exited}):\n${this.output}`);
      try {
        const a = await controlRequest(this.socket, { cmd: 'servers' }, 1000);
        if ((a.servers as { state: string }[]).every((s) => s.state === 'up')) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > until) throw new Error(`the appliance did not become ready:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  ask(req: object): Promise<Record<string, unknown>> {
    return controlRequest(this.socket, req);
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  /** Stops the appliance by its pid and removes its control socket's directory (the test's own). */
  async stop(): Promise<void> {
    if (this.exited === null) {
      const done = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
      if (this.exited === null) this.child.kill('SIGKILL');
    }
    rmSync(dirname(this.socket), { recursive: true, force: true });
  }

  /**
   * Ends a suite's appliance and checks what it says of itself: no internal error counted (a bug
   * met on the packet path is counted there and logged once, without a stack), a clean exit
   * (status 0, no signal), and no line in its log that looks like an error unless `expected`
   * names it. Stops it whatever the checks find.
   */
  async finish(expected: RegExp[] = []): Promise<void> {
    let internalErrors: unknown = 'not asked';
    try {
      if (this.exited === null) internalErrors = ((await this.ask({ cmd: 'status' })).status as { internalErrors: number }).internalErrors;
    } finally {
      await this.stop();
    }
    const problems: string[] = [];
    if (internalErrors !== 0) problems.push(`internalErrors: ${String(internalErrors)}`);
    if (this.exited !== 0 || this.exitSignal !== null) problems.push(`exit status ${this.exited}, signal ${this.exitSignal}`);
    const suspect = this.output.split('\n').filter((l) => /error|assert|uncaught|abort|^\s+at /i.test(l) && !expected.some((e) => e.test(l)));
    if (suspect.length) problems.push(`unexpected log lines:\n${suspect.join('\n')}`);
    if (problems.length) throw new Error(`the appliance did not end cleanly: ${problems.join('; ')}\n--- its log:\n${this.output}`);
  }

  static cleanup(dir: string): void {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface SuiteAppliance {
  lab: LabFacts;
  conf: string;
  app: ApplianceProcess;
}

/**
 * Mocha hooks around a suite: the lab up, an appliance running on a copy of conf/ with
 * `changes` (and `edit` applied to the copy), ended by `finish` (the log lines `expectedLog`
 * allowed) and removed afterwards. The fields are filled in by the time the suite's tests run.
 */
export function applianceForSuite(
  socket: string, changes: Record<string, Record<string, string>> = {}, env: Record<string, string> = {}, edit?: (dir: string) => void, expectedLog: RegExp[] = [],
): SuiteAppliance {
  const s = {} as SuiteAppliance;
  before(async function () {
    s.lab = useLab();
    s.conf = configCopy({ ...changes, 'appliance.ini': { control_socket: socket, ...changes['appliance.ini'] } });
    edit?.(s.conf);
    s.app = new ApplianceProcess(s.conf, socket, env);
    await s.app.ready();
  });
  after(async function () {
    try {
      await s.app?.finish(expectedLog);
    } finally {
      if (s.conf) ApplianceProcess.cleanup(s.conf);
    }
  });
  return s;
}
