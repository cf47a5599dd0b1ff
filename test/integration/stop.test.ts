import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplianceProcess, configCopy, editIni, ownServers } from '../lab/appliance-process';
import { controlRequest } from '../../appliance/control/client';
import { REPO } from '../lab/lab';

const NS = 'salab-stoptest';
const SOCKET = '/run/socksalp-test-stop/control.sock';
const TUN = 'stp0';
/** Created by the appliance (absent beforehand), and one made persistent beforehand. */
const TAP = 'stp-a';
const KEPT = 'stp-keep';
const OTHER = 'stp-b';

/**
 * Freed memory is filled (and not kept in glibc's per-thread cache, which would leave it as
 * it was), so that touching a watcher libuv had already closed and freed aborts every time
 * instead of now and then: what SIGTERM did after a TAP was deleted.
 */
const STRICT_MALLOC = { MALLOC_PERTURB_: '4', GLIBC_TUNABLES: 'glibc.malloc.tcache_count=0' };

function ip(...args: string[]) {
  return spawnSync('ip', args, { encoding: 'utf8' });
}

function links(): string {
  return ip('-n', NS, '-o', 'link', 'show').stdout;
}

async function until(what: string, app: ApplianceProcess, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${app.output}`);
    await sleep(50);
  }
}

/** Until the control socket answers and the loop runs. */
async function running(app: ApplianceProcess): Promise<void> {
  const end = Date.now() + 10_000;
  for (;;) {
    if (app.exited !== null) throw new Error(`the appliance exited (${app.exited}):\n${app.output}`);
    try {
      await controlRequest(SOCKET, { cmd: 'status' }, 500);
      if (app.output.includes('socksalp: running:')) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > end) throw new Error(`the appliance did not start:\n${app.output}`);
    await sleep(100);
  }
}

/** Until the process has exited and what it wrote last has come through. */
async function exit(app: ApplianceProcess, last?: string): Promise<void> {
  await until('the appliance to exit', app, () => app.exited !== null);
  if (last) await until(`"${last}"`, app, () => app.output.includes(last), 2000).catch(() => undefined);
  await sleep(100);
}

function expectCleanStop(app: ApplianceProcess, signal: string): void {
  const out = app.output;
  expect(app.exitSignal, out).to.equal(null);
  expect(app.exited, out).to.equal(0);
  expect(out).to.include(`socksalp: ${signal}: stopping`);
  expect(out).to.match(/socksalp: stopped\n$/);
  expect(out).not.to.include('Assertion');
  expect(out).not.to.match(/^ {4}at /m);
  expect(out).not.to.match(/Error:/);
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/**
 * Every way the appliance stops ends with its log line, "stopped" and status 0 (1 with one
 * clear line for a start that fails), never an abort or a stack: a signal, a TUN or TAP
 * deleted while it runs (logged once, its watcher closed before its descriptor, the others
 * go on), or as it stops; with the fdwatch addon and with the poll-thread fallback. In a
 * namespace of its own, removed afterwards.
 */
describe('stop: every way the appliance stops is clean', function () {
  this.timeout(60_000);
  let conf: string;
  const started: ApplianceProcess[] = [];

  function start(env: Record<string, string>, dir = conf): ApplianceProcess {
    const app = new ApplianceProcess(dir, SOCKET, { ...STRICT_MALLOC, ...env }, NS);
    started.push(app);
    return app;
  }

  before(function () {
    ip('netns', 'del', NS); // a leftover of an interrupted run
    expect(ip('netns', 'add', NS).status).to.equal(0);
    conf = configCopy({ 'appliance.ini': { control_socket: SOCKET, tun: TUN } });
    ownServers(conf, [
      `[a]\naddress = 198.19.7.2\ntap = ${TAP}\nlocal = 198.19.7.1/24\ndefault = yes\n`,
      `[b]\naddress = 198.19.8.2\ntap = ${OTHER}\nlocal = 198.19.8.1/24\n`,
      `[k]\naddress = 198.19.9.2\ntap = ${KEPT}\nlocal = 198.19.9.1/24\n`,
    ]);
  });

  beforeEach(function () {
    // The persistent TAP, as the lab or a boot script would make it (again, after a case deleted it).
    if (!/: stp-keep: /.test(links())) expect(ip('-n', NS, 'tuntap', 'add', 'mode', 'tap', 'name', KEPT).status).to.equal(0);
  });

  afterEach(async function () {
    // Whatever happened, no appliance of ours outlives its case (stopped by its pid).
    for (const app of started.splice(0)) await app.stop();
  });

  after(function () {
    ip('netns', 'del', NS);
    if (conf) ApplianceProcess.cleanup(conf);
  });

  for (const [mechanism, env] of [
    ['fdwatch', {}],
    ['the poll thread', { SOCKSALP_NO_FDWATCH: '1' }],
  ] as const) {
    describe(`with ${mechanism}`, function () {
      const word = mechanism === 'fdwatch' ? 'epoll in the event loop (fdwatch)' : 'poll(2) on a worker thread (koffi)';

      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        it(`${signal} stops it with status 0 and closes its devices`, async function () {
          const app = start(env);
          await running(app);
          expect(app.output).to.include(`readiness by ${word}`);
          app.signal(signal);
          await exit(app, 'stopped');
          expectCleanStop(app, signal);
          // The devices it created went with their descriptors; the persistent one stays.
          const after = links();
          expect(after).not.to.match(/: stp0: /);
          expect(after).not.to.match(/: stp-a: /);
          expect(after).to.match(/: stp-keep: /);
        });
      }

      for (const [what, dev] of [
        ['a TAP it created', TAP],
        ['a persistent TAP', KEPT],
        ['the TUN', TUN],
      ] as const) {
        it(`${what} deleted while it runs: logged once, the rest goes on, SIGTERM stops it cleanly`, async function () {
          const app = start(env);
          await running(app);
          expect(ip('-n', NS, 'link', 'del', dev).status).to.equal(0);
          const failed = `device ${dev} failed`;
          await until(`"${failed}"`, app, () => app.output.includes(failed));
          // Still running: the control socket answers, the other devices are there and up.
          await sleep(300);
          expect(app.exited, app.output).to.equal(null);
          const status = await controlRequest(SOCKET, { cmd: 'status' }, 2000);
          expect(status.ok).to.equal(true);
          const now = links();
          for (const d of [TUN, TAP, OTHER, KEPT].filter((d) => d !== dev)) expect(now).to.match(new RegExp(`: ${d}: <[^>]*\\bUP\\b`));
          app.signal('SIGTERM');
          await exit(app, 'stopped');
          expectCleanStop(app, 'SIGTERM');
          expect(count(app.output, failed), app.output).to.equal(1);
          expect(app.output).to.include(`${failed} (read: File descriptor in bad state); `);
        });
      }

      it('a TAP deleted as SIGTERM comes stops cleanly all the same', async function () {
        const app = start(env);
        await running(app);
        const del = spawnSync('sh', ['-c', `ip -n ${NS} link del ${OTHER} & kill -TERM ${app.pid}; wait`]);
        expect(del.status).to.equal(0);
        await exit(app, 'stopped');
        expectCleanStop(app, 'SIGTERM');
        expect(count(app.output, `device ${OTHER} failed`)).to.be.at.most(1);
      });
    });
  }

  describe('a start that fails', function () {
    it('a configuration error: status 1 with the messages of check, no stack', async function () {
      const bad = configCopy({ 'appliance.ini': { control_socket: SOCKET, tun: TUN } });
      try {
        editIni(join(bad, 'appliance.ini'), { idle_timeout: '0' });
        const check = spawnSync(process.execPath, [join(REPO, 'dist', 'appliance', 'cli', 'index.js'), 'check', '--config', bad], { encoding: 'utf8' });
        expect(check.status).to.equal(1);
        const problems = check.stderr.trim().split('\n').slice(0, -1);
        expect(problems.join('\n')).to.include('idle_timeout');
        const app = start({}, bad);
        await exit(app, 'not started');
        const out = app.output;
        expect(app.exitSignal, out).to.equal(null);
        expect(app.exited, out).to.equal(1);
        for (const p of problems) expect(out).to.include(p);
        expect(out).to.match(/\d+ problems? in .*; the appliance was not started\n$/);
        expect(out).not.to.match(/^ {4}at /m);
        expect(links()).not.to.match(/: stp0: /);
      } finally {
        ApplianceProcess.cleanup(bad);
      }
    });

    it('a device that cannot be used (the TUN is a TAP): status 1 with one line, no stack', async function () {
      const bad = configCopy({ 'appliance.ini': { control_socket: SOCKET, tun: KEPT } });
      try {
        const app = start({}, bad);
        await exit(app, 'is it a TAP?');
        const out = app.output;
        expect(app.exitSignal, out).to.equal(null);
        expect(app.exited, out).to.equal(1);
        expect(out).to.match(/^socksalp: stp-keep: attach as TUN \(is it a TAP\?\): .+\n$/);
        expect(out).not.to.match(/^ {4}at /m);
      } finally {
        ApplianceProcess.cleanup(bad);
      }
    });
  });
});
