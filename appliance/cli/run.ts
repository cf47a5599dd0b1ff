import { loadOrReport } from './load-or-report';
import { Appliance } from '../appliance';
import { ControlServer } from '../control/server';
import { MonitorServer } from '../monitor/server';
import { MetricsServer } from '../metrics/server';
import { IpfixExporter } from '../export/exporter';
import { parseVerb } from './usage';
import { WorkerPool } from '../workers/pool';
import { SyncPair } from '../sync/pair';
import { formatSyncEndpoint } from '../config/ha-ini';
import { Watchdog } from '../health/watchdog';

export const RUN_USAGE = `Usage: socksalp run [--config DIR]

Runs the appliance in the foreground: opens the TUN device and one TAP per server segment
(creating them when absent), dispatches SOCKS connections by ALP, and answers on the
control socket (and, with appliance.ini [monitor] listen, on the network monitor's channel:
signed divert commands over TCP, see "socksalp divert --help"; with [metrics] listen, on
GET /metrics in the Prometheus text format). With [export] ipfix, it sends an IPFIX flow
record of every connection to that collector. Logs go to standard error.

With [appliance] workers = N (or auto) above 1, N threads share the data path: each attaches
its own queue of the TUN and of every TAP (multi-queue devices), and the devices steer each
connection's datagrams by port to the worker that holds it.

Signals: SIGHUP reloads the INI files (refused with the reasons if they are invalid; the
running tables stay), SIGTERM or SIGINT stops ("stopped" is logged last; status 0).

Options:
  -c, --config DIR   configuration directory (default: conf)
  -h, --help         show this help
`;

function log(message: string): void {
  process.stderr.write(`${new Date().toISOString()} socksalp: ${message}\n`);
}

export async function run(argv: string[]): Promise<number> {
  const args = parseVerb(argv, RUN_USAGE, { config: { type: 'string', short: 'c', default: 'conf' } });
  if (!args) return 0;
  const config = loadOrReport(args.values.config as string, 'the appliance was not started');
  if (!config) return 1;
  const appliance = new Appliance(config, log);
  const control = new ControlServer(appliance, config.appliance.controlSocket);
  // A failure to start leaves nothing holding the process open: it exits 1 with the message
  // (index.ts). The socket is removed only once it is ours (not another appliance's).
  const monitor = config.monitor && new MonitorServer(appliance, config.monitor);
  try {
    await control.listen();
  } catch (e) {
    appliance.stop();
    throw e;
  }
  if (monitor) {
    try {
      await monitor.listen();
    } catch (e) {
      control.close();
      appliance.stop();
      throw e;
    }
    appliance.monitor = monitor;
  }
  // The metrics are for watching: a port that cannot be had is logged, and the appliance runs on.
  const metrics = config.metrics && new MetricsServer(appliance, config.metrics);
  if (metrics) await metrics.listen();
  // IPFIX: records of every connection's end, interim ones on the exporter's own timers.
  const exporter = config.export && new IpfixExporter(config.export, appliance, log);
  if (exporter) {
    await exporter.start();
    appliance.dispatcher.observe(exporter);
    appliance.exporter = exporter;
  }
  // The HA pair's sync (issue 16), and the other workers; whatever fails here stops the start.
  const sync = config.ha && new SyncPair(appliance, config.ha);
  let failure: ((why: string) => void) | undefined;
  const pool = config.appliance.workers > 1 ? new WorkerPool(appliance, (why) => failure?.(why)) : undefined;
  try {
    if (sync) {
      await sync.start().catch((e: Error) => {
        throw new Error(`ha.ini [sync] listen ${formatSyncEndpoint(sync.listen)}: ${e.message}`);
      });
      appliance.sync = sync;
    }
    if (pool) {
      appliance.workers = pool;
      await pool.start();
    }
    // With ha.ini, the sync started it if it is master; a backup waits for `ctl role master`.
    if (!sync) appliance.start();
  } catch (e) {
    pool?.stop(() => undefined);
    void sync?.close();
    exporter?.stop();
    metrics?.close();
    monitor?.close();
    control.close();
    appliance.stop();
    throw e;
  }

  const watchdog = new Watchdog(config.appliance.watchdog);
  watchdog.start();

  return new Promise<number>((resolve) => {
    let stopping = false;
    let failed = false;
    const stop = (why: string) => {
      if (stopping) return; // the first stop is under way, and bounded (a second at most; an HA master adds its handover)
      stopping = true;
      log(`${why}: stopping`);
      // An HA master first gives its addresses to the peer (its control socket still answers keepalived's notify).
      void (sync && !failed ? sync.handover() : Promise.resolve()).then(() => stopNow());
    };
    const stopNow = () => {
      watchdog.stop();
      metrics?.close();
      monitor?.close();
      control.close();
      // The appliance's stop ends every connection (their records), then the exporter sends them.
      const stopFirst = () => appliance.stop(() => {
        const stopped = () => {
          void (sync ? sync.close() : Promise.resolve()).then(() => {
            log('stopped');
            resolve(failed ? 1 : 0);
          });
        };
        if (exporter) exporter.stop(stopped);
        else stopped();
      });
      if (pool) pool.stop(stopFirst);
      else stopFirst();
    };
    failure = (why) => {
      log(why);
      failed = true;
      process.exitCode = 1;
      stop('a worker failed');
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      if (appliance.reload().ok) pool?.relay({ cmd: 'reload' });
    });
    // A bug that escapes every guard stops the appliance in order with one line and status 1
    // (systemd restarts it), rather than a stack on the console with the devices half-closed.
    const fatal = (e: unknown) => {
      const err = e as Error;
      log(`internal error: ${err?.message ?? String(e)}${process.env.SOCKSALP_DEBUG ? `\n${err?.stack}` : ''}`);
      failed = true;
      process.exitCode = 1;
      stop('internal error');
    };
    process.on('uncaughtException', fatal);
    process.on('unhandledRejection', fatal);
  });
}
