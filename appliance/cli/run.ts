import { loadOrReport } from './load-or-report';
import { Appliance } from '../appliance';
import { ControlServer } from '../control/server';
import { parseVerb } from './usage';

export const RUN_USAGE = `Usage: socksalp run [--config DIR]

Runs the appliance in the foreground: opens the TUN device and one TAP per server segment
(creating them when absent), dispatches SOCKS connections by ALP, and answers on the
control socket. Logs go to standard error.

Signals: SIGHUP reloads the INI files (refused with the reasons if they are invalid; the
running tables stay), SIGTERM or SIGINT stops.

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
  try {
    await control.listen();
  } catch (e) {
    appliance.stop();
    throw e;
  }
  appliance.start();

  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      log(`${signal}: stopping`);
      control.close();
      appliance.stop();
      resolve(0);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => appliance.reload());
  });
}
