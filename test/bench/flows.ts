import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { REPO, type LabFacts } from '../lab/lab';
import { ApplianceProcess, configCopy, ownServers } from '../lab/appliance-process';
import { cpuTicks, CLK_TCK } from './cpu';
import type { FlowRun } from './figures';

/**
 * Established-flow packets/s (issue 15): `flows` SOCKS5 flows from the client namespace through
 * the appliance to flow-echo-server.ts on sb's host (beside its Dante, on another port), 64-byte
 * round trips on all of them at once for `seconds` (flows-load.ts), `runs` times on one
 * appliance. Over each run's interval, the datagrams the appliance wrote to its devices
 * (ctl status, devices[].txPackets, summed) and its CPU time (/proc/PID/stat utime + stime).
 */
const ECHO = { ns: 'salab-sb', address: '198.19.2.2', port: 1090, tap: 'alp-sb', local: '198.19.2.1/24' };

export async function establishedFlows(lab: LabFacts, socket: string, flows: number, seconds: number, runs: number): Promise<FlowRun[]> {
  const server = spawn('ip', ['netns', 'exec', ECHO.ns, 'bash', '-c',
    `ulimit -n 20000; exec ${process.execPath} ${join(REPO, 'dist', 'test', 'bench', 'flow-echo-server.js')} --listen ${ECHO.address}:${ECHO.port}`], { stdio: 'ignore' });
  const conf = configCopy({ 'appliance.ini': { control_socket: socket } });
  ownServers(conf, [`[echo]\naddress = ${ECHO.address}\nport = ${ECHO.port}\ntap = ${ECHO.tap}\nlocal = ${ECHO.local}\nalps = ALL\ndefault = yes\n`]);
  const app = new ApplianceProcess(conf, socket);
  try {
    await new Promise((r) => setTimeout(r, 500)); // the echo server starts listening
    await app.ready();
    const out: FlowRun[] = [];
    for (let k = 0; k < runs; k++) out.push(await oneRun(lab, app, flows, seconds));
    return out;
  } finally {
    await app.stop();
    ApplianceProcess.cleanup(conf);
    server.kill('SIGTERM');
  }
}

async function forwarded(app: ApplianceProcess): Promise<{ packets: number; ticks: number; at: bigint }> {
  const st = (await app.ask({ cmd: 'status' })).status as { devices: { txPackets: number }[] };
  return { packets: st.devices.reduce((n, d) => n + d.txPackets, 0), ticks: cpuTicks(app.pid), at: process.hrtime.bigint() };
}

async function oneRun(lab: LabFacts, app: ApplianceProcess, flows: number, seconds: number): Promise<FlowRun> {
  const load = spawn('ip', ['netns', 'exec', lab.LAB_NS_CLIENT, 'bash', '-c',
    `ulimit -n 20000; exec ${process.execPath} ${join(REPO, 'dist', 'test', 'bench', 'flows-load.js')} --proxy ${lab.LAB_VIP}:1080 --flows ${flows} --seconds ${seconds}`],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((r) => load.once('exit', r));
  const lines = createInterface({ input: load.stdout! })[Symbol.asyncIterator]();
  const line = async () => {
    const r = await lines.next();
    if (r.done) throw new Error(`flows-load exited (${await exited}) before its report`);
    return JSON.parse(r.value) as Record<string, number>;
  };
  try {
    const opened = await line();
    const t0 = await forwarded(app);
    if (opened.failed > 0) process.stderr.write(`bench: flows: ${opened.failed} of ${flows} flows failed to open\n`);
    const done = await line();
    const t1 = await forwarded(app);
    return { flows: opened.open, rounds: done.rounds, seconds: Number(t1.at - t0.at) / 1e9, packets: t1.packets - t0.packets, cpuSeconds: (t1.ticks - t0.ticks) / CLK_TCK };
  } finally {
    load.stdin!.end();
    await exited;
  }
}
