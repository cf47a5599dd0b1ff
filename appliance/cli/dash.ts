import { controlPath } from './control-path';
import { parseVerb } from './usage';
import { DashboardModel } from '../../tui/model';
import { renderOnce } from '../../tui/panels';

export const DASH_USAGE = `Usage: socksalp dash [--config DIR | --socket PATH] [--once] [--width N]

The live terminal dashboard of a running appliance: servers with their state, traffic and
output queues; the ALP table; the Socks ALP Connection table (scroll, sort, filter);
throughput, queues and congestion over time. It reads the control socket twice a second and
is a separate process: quitting it, or several of them, never touches the data path. When
the appliance is not running it says so and keeps trying.

Keys: Tab/Shift-Tab panel, arrows and PgUp/PgDn scroll, s sort, / filter, Esc clear filter,
a add a diversion (ORIGINAL DIVERTED [drain|move]), d remove the selected one, r reload the
configuration, ? help, q quit.

Options:
  -c, --config DIR    configuration whose control_socket to use (default: conf)
  -s, --socket PATH   control socket path (overrides --config)
      --once          print one plain-text snapshot of the panels and exit (1 if unreachable)
      --width N       columns for --once (default: the terminal's, or 120)
  -h, --help          show this help
`;

export async function dash(argv: string[]): Promise<number> {
  const args = parseVerb(argv, DASH_USAGE, {
    config: { type: 'string', short: 'c', default: 'conf' },
    socket: { type: 'string', short: 's' },
    once: { type: 'boolean' },
    width: { type: 'string' },
  });
  if (!args) return 0;
  const model = new DashboardModel(controlPath(args.values));
  if (args.values.once) {
    // Two samples a moment apart, so that the rates are real ones.
    model.pageSize = 40;
    await model.refresh();
    if (!model.error) {
      await new Promise((r) => setTimeout(r, 500));
      await model.refresh();
    }
    if (model.error) {
      process.stderr.write(`socksalp: the appliance is not reachable at ${model.socket}: ${model.error}\n`);
      return 1;
    }
    const width = Number(args.values.width ?? (process.stdout.columns || 120));
    process.stdout.write(renderOnce(model, width) + '\n');
    return 0;
  }
  if (!process.stdout.isTTY) {
    process.stderr.write('socksalp: dash needs a terminal; use --once for a plain snapshot\n');
    return 2;
  }
  // blessed is loaded only here, so the other commands start without it.
  const { Dashboard } = require('../../tui/dashboard') as typeof import('../../tui/dashboard');
  new Dashboard(model).start();
  return new Promise<number>(() => undefined); // runs until q
}
