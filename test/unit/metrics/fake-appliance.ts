import { join } from 'node:path';
import { buildStages, type Appliance } from '../../../appliance/appliance';
import { loadConfig } from '../../../appliance/config/load';
import { PacketPool } from '../../../appliance/device/packet-pool';
import type { DeviceKind } from '../../../appliance/device/tuntap';
import { Dispatcher } from '../../../appliance/flow/dispatcher';
import { Forwarder } from '../../../appliance/forward/forwarder';
import { ServerHealth } from '../../../appliance/forward/health';
import { Exposition } from '../../../appliance/metrics/exposition';
import { writeMetrics } from '../../../appliance/metrics/metrics';
import { AlpRegistry } from '../../../appliance/stages/alp-registry';
import { RuntimeStats } from '../../../appliance/stats/runtime';
import { MemoryDevice } from '../../fuzz/harness';
import { REPO } from '../../lab/lab';

/**
 * The appliance's parts as appliance.ts composes them, on devices in memory, with the lab's
 * configuration (conf/), and statistics whose figures the test sets: what the metrics read.
 */
export function fakeAppliance(logs: string[] = []) {
  const config = loadConfig(join(REPO, 'conf'));
  const alps = new AlpRegistry();
  const stages = buildStages(config, alps);
  const pool = new PacketPool(256, 1500, 4);
  const log = (m: string) => logs.push(m);
  const health = new ServerHealth(config.servers.length, log, config.servers.map((s) => s.name));
  const forwarder = new Forwarder(pool, config, stages, health, log, (name: string, kind: DeviceKind) => new MemoryDevice(name, kind, pool, () => undefined));
  const dispatcher = new Dispatcher(forwarder, health, stages, config.servers, 1460);
  forwarder.dispatcher = dispatcher;
  const ended: [number, number, number, number][] = [];
  const bounds = [0.001, 0.01, 0.1, 1];
  const histograms = { handshake: config.servers.map(() => ({ bounds, counts: new Float64Array(5), sum: 0, count: 0 })), reply: config.servers.map(() => ({ bounds, counts: new Float64Array(5), sum: 0, count: 0 })) };
  const flowStats = {
    alpBytes: new Float64Array(alps.size),
    histogram: (kind: 'handshake' | 'reply', server: number) => histograms[kind][server],
    forEachEnded: (fn: (server: number, alp: number, reason: number, count: number) => void) => ended.forEach((e) => fn(...e)),
  };
  const a = { config, alps, pool, health, forwarder, dispatcher, flowStats, runtime: new RuntimeStats(), version: '9.8.7', started: Date.now() - 5000, lastReload: undefined, log } as unknown as Appliance;
  return { a, ended, histograms, config };
}

export function scrape(a: Appliance): string {
  const x = new Exposition();
  writeMetrics(x, a);
  return x.text();
}

/** The value of the sample `series` (name and labels as written), or undefined. */
export function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
