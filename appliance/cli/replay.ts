import { loadOrReport } from './load-or-report';
import { parseVerb, UsageError } from './usage';
import { CaptureError } from '../replay/capture-file';
import { replayCapture } from '../replay/replay';
import { formatReplay } from '../replay/report';

export const REPLAY_USAGE = `Usage: socksalp replay FILE [--config DIR] [--json]

Runs a capture of intranet traffic (FILE: pcap or pcapng, as "tcpdump -w" writes it, of
Ethernet, Linux cooked or raw IP frames, IPv4 and IPv6) offline through the stages of the
configuration in DIR: each TCP connection to a VIP's SOCKS port is reassembled from the client's side, its
SOCKS4, 4a or 5 handshake parsed, and the Traffic Analyzer (the ALP from the destination
port), the Priority Finder, the diverted-address table and Server ALP Selection decide as a
live appliance would. Prints, per connection, the ALP, priority, discard eligibility, server
(or why none) and diversion, then a summary per server and per ALP, the routed flows and
notes on what a capture cannot show (servers' health, round robin's position). Nothing is
sent anywhere: an edit of the INI files can be judged before it is reloaded.

Exits 1 with the reason when FILE cannot be read as a capture, and with the messages of
"socksalp check" when DIR is not a valid configuration.

Options:
  -c, --config DIR   configuration directory (default: conf)
  -j, --json         print the result as JSON
  -h, --help         show this help
`;

export function replay(argv: string[]): number {
  const args = parseVerb(argv, REPLAY_USAGE, {
    config: { type: 'string', short: 'c', default: 'conf' },
    json: { type: 'boolean', short: 'j' },
  }, true);
  if (!args) return 0;
  if (args.positionals.length !== 1) throw new UsageError(args.positionals.length === 0 ? 'the capture FILE is missing' : 'one capture FILE at a time', REPLAY_USAGE);
  const config = loadOrReport(args.values.config as string, 'nothing was replayed');
  if (!config) return 1;
  let result;
  try {
    result = replayCapture(args.positionals[0], config);
  } catch (e) {
    if (!(e instanceof CaptureError)) throw e;
    process.stderr.write(`socksalp: replay: ${e.message}\n`);
    return 1;
  }
  process.stdout.write(args.values.json ? JSON.stringify(result, null, 2) + '\n' : formatReplay(result) + '\n');
  return 0;
}
