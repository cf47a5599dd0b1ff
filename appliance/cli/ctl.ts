import { controlRequest } from '../control/client';
import { formatTable } from '../text/table';
import { formatBytes, formatCount, formatDuration, formatMs } from '../text/units';
import { controlPath } from './control-path';
import { parseVerb, UsageError } from './usage';
import { printDivertAnswer } from './divert-answer';

export const CTL_USAGE = `Usage: socksalp ctl [--config DIR | --socket PATH] <command> [options]

Queries a running appliance through its control socket.

Commands:
  list                 servers with their connections and counters (like ipvsadm -L -n)
  conns                the Socks ALP Connection table
      --filter TEXT    only rows containing TEXT (client, ALP, destination, server, state)
      --sort KEY       bytes, age, alp, server, idle, latency (the server's SOCKS reply),
                       rtt, throughput or retrans (the largest first)
      --limit N        rows to show (default 50), --offset N to page
  flows                the current connections: routed flows the diverted-address table
                       diverts (figure 3's pair of pairs), --filter, --limit, --offset as conns
  alps                 the Socks ALP Configuration table with live counters
  status               counters, devices, drops, reassembly, last reload (JSON)
  reload               re-read the INI files, as SIGHUP does, and print the result
  divert list          the diverted-address table in force
  divert add ORIGINAL DIVERTED [--mode drain|move]
                       divert connections to ORIGINAL (an address, address:port, name or
                       name:port; IPv6 with a port as [2001:db8::80]:8080) to DIVERTED.
                       drain (default): established connections stay where they are;
                       move: UDP flows follow at once, TCP connections that go elsewhere
                       are reset on both sides so that the client reconnects
  divert remove ORIGINAL [--mode drain|move]
  divert save          write the table in force back to diverted.ini, keeping its comments
  role master|backup   an HA pair's role (keepalived's notify scripts): master takes over the
                       connections the peer synced and serves them; backup stops serving
  health               exit 0 while the appliance serves its role, 1 otherwise, with one line
                       (keepalived's track_script)

Options:
  -c, --config DIR     configuration whose control_socket to use (default: conf)
  -s, --socket PATH    control socket path (overrides --config)
  -h, --help           show this help
`;

type Row = Record<string, unknown>;

/** A server's check for `ctl list`: off, or its state, last verdict and latency. */
function checkText(c: Row): string {
  if (c.state === 'off') return '-';
  if (c.last === '') return String(c.state);
  return c.last === 'ok' ? `${c.state} ok ${c.latencyMs}ms` : `${c.state}: ${c.last}`;
}

export async function ctl(argv: string[]): Promise<number> {
  const args = parseVerb(argv, CTL_USAGE, {
    config: { type: 'string', short: 'c', default: 'conf' },
    socket: { type: 'string', short: 's' },
    filter: { type: 'string' },
    sort: { type: 'string' },
    limit: { type: 'string' },
    offset: { type: 'string' },
    mode: { type: 'string' },
  }, true);
  if (!args) return 0;
  const [command, ...extra] = args.positionals;
  if (command === undefined) throw new UsageError('which command?', CTL_USAGE);
  if (command === 'role' && (extra.length !== 1 || (extra[0] !== 'master' && extra[0] !== 'backup'))) throw new UsageError('role takes master or backup', CTL_USAGE);
  if (command !== 'divert' && command !== 'role' && extra.length) throw new UsageError(`unexpected "${extra.join(' ')}"`, CTL_USAGE);
  const path = controlPath(args.values);
  const ask = async (req: object): Promise<Row> => {
    const a = await controlRequest(path, req);
    if (a.ok !== true) throw new Error(String(a.error));
    return a;
  };
  const out = (s: string) => process.stdout.write(s + '\n');
  switch (command) {
    case 'list': {
      const a = await ask({ cmd: 'snapshot' });
      const st = a.status as Row;
      const servers = a.servers as Row[];
      // Several workers (appliance/workers/): each one's share, and what was steered to the wrong one.
      const workers = st.workers as Row[] | undefined;
      const shares = workers ? `; ${workers.length} workers: ${workers.map((w) => w.connections).join(' + ')} connections, ${workers.reduce((t, w) => t + (w.misrouted as number), 0)} misrouted` : '';
      const sync = st.sync as { role: string; held: number; health: { ok: boolean; why: string } } | null;
      const ha = sync ? `; HA ${sync.role}${sync.health.ok ? '' : ` (${sync.health.why})`}, ${sync.held} of the ${sync.role === 'member' ? 'peers\'' : 'peer\'s'} held` : '';
      out(`socksalp ${st.version}: ${st.connections} connections (${st.halfOpen} half-open), up ${formatDuration(st.uptime as number)}${shares}${ha}`);
      out(formatTable(
        ['Server', 'Address', 'TAP', 'Cap', 'ALPs', 'State', 'Check', 'ActiveConn', 'InPkts', 'OutPkts', 'InBytes', 'OutBytes', 'Queue', 'Discards', 'Conn/s', 'ReplyP50', 'ReplyP99', 'Failures'],
        servers.map((s) => [
          s.name, s.address, s.tap, String(s.capacity), (s.alps as string[]).join(','), s.divertedTo ? `${s.state}>${s.divertedTo}` : String(s.state), checkText(s.check as Row), String(s.active),
          formatCount(s.packetsIn as number), formatCount(s.packetsOut as number),
          formatBytes(s.bytesIn as number), formatBytes(s.bytesOut as number),
          `${s.queue}/${s.queueLimit}`, String(Object.values(s.discards as Row).reduce((x: number, y) => x + (y as number), 0)),
          ...loadCells(s.load as Row),
        ] as string[]),
        '',
      ));
      return 0;
    }
    case 'role': {
      const a = await ask({ cmd: 'role', role: extra[0] });
      const p = a.promotion as Row | undefined;
      const took = p ? `: ${p.adopted} connection(s) taken over in ${p.ms} ms` : '';
      out(a.changed ? `now ${a.role}${took}` : `already ${a.role}`);
      return 0;
    }
    case 'health': {
      // keepalived runs this every second: a control socket that does not answer is a failure too.
      const h = (await controlRequest(path, { cmd: 'health' }, 900)).health as Row;
      out(`${h.ok ? 'ok' : 'failing'}: ${h.role}, ${h.why}`);
      return h.ok ? 0 : 1;
    }
    case 'conns': {
      const a = await ask({
        cmd: 'conns',
        filter: args.values.filter ?? '',
        sort: args.values.sort ?? '',
        limit: Number(args.values.limit ?? 50),
        offset: Number(args.values.offset ?? 0),
      });
      const rows = a.rows as Row[];
      out(formatTable(
        ['Client', 'ALP', 'Destination', 'Server', 'Port', 'State', 'SOCKS', 'Age', 'Idle', 'BytesIn', 'BytesOut', 'Handshake', 'Reply', 'RttServer', 'RttClient', 'Rate', 'Retrans', 'Sizes'],
        rows.map((r) => [
          r.client, r.alp, r.diverted ? `${r.destination}->${r.diverted}` : r.destination, r.server, String(r.port), r.state, r.dialect, formatDuration(r.age as number),
          formatDuration(r.idle as number), formatBytes(r.bytesIn as number), formatBytes(r.bytesOut as number),
          formatMs(r.handshakeMs as number), formatMs(r.replyMs as number), formatMs(r.rttServerMs as number), formatMs(r.rttClientMs as number),
          `${formatBytes(r.throughput as number)}/s`, `${r.retransIn}/${r.retransOut}`, r.maxLength ? `${r.minLength}-${r.maxLength}` : '-',
        ] as string[]),
        '',
      ));
      out(`${rows.length} shown of ${a.matched} matching, ${a.total} in the table`);
      return 0;
    }
    case 'flows': {
      const a = await ask({ cmd: 'flows', filter: args.values.filter ?? '', limit: Number(args.values.limit ?? 50), offset: Number(args.values.offset ?? 0) });
      const rows = a.rows as Row[];
      out(formatTable(
        ['Proto', 'Client', 'Original', 'Diverted', 'Own', 'State', 'Age', 'Idle', 'PktsOut', 'BytesOut', 'PktsIn', 'BytesIn'],
        rows.map((r) => [
          r.proto, r.client, r.original, r.diverted, r.own, r.state, formatDuration(r.age as number), formatDuration(r.idle as number),
          formatCount(r.packetsOut as number), formatBytes(r.bytesOut as number), formatCount(r.packetsIn as number), formatBytes(r.bytesIn as number),
        ] as string[]),
        '',
      ));
      out(`${rows.length} shown of ${a.matched} matching, ${a.total} in the current connections`);
      return 0;
    }
    case 'alps': {
      const a = await ask({ cmd: 'alps' });
      out(formatTable(
        ['ALP', 'Ports', 'Priority', 'DiscardEligible', 'ActiveConn', 'Packets', 'Discards', 'Conn/s', 'ReplyP50', 'ReplyP99', 'Failures', 'Rate'],
        (a.alps as Row[]).map((r) => [
          r.name, r.removed ? '(removed)' : (r.ports as number[]).join(',') || '(others)', String(r.priority), r.discardEligible ? 'yes' : 'no',
          String(r.active), formatCount(r.packets as number), String(r.discards), ...loadCells(r.load as Row),
          `${formatBytes((r.load as Row).bytesPerSecond as number)}/s`,
        ] as string[]),
        '',
      ));
      return 0;
    }
    case 'status':
      out(JSON.stringify((await ask({ cmd: 'status' })).status, null, 2));
      return 0;
    case 'reload': {
      const r = (await ask({ cmd: 'reload' })).reload as Row;
      out(String(r.message));
      return r.ok ? 0 : 1;
    }
    case 'divert': {
      const [op, ...rest] = extra;
      const want = { list: 0, add: 2, remove: 1, save: 0 }[op as 'list'];
      if (want === undefined) throw new UsageError('divert what? list, add, remove or save', CTL_USAGE);
      if (rest.length !== want) throw new UsageError(`divert ${op} takes ${want} argument(s)`, CTL_USAGE);
      printDivertAnswer(op, await ask({ cmd: 'divert', op, original: rest[0], diverted: rest[1], mode: args.values.mode }), out);
      return 0;
    }
    default:
      throw new UsageError(`unknown ctl command "${command}"`, CTL_USAGE);
  }
}

/** The last minute of a server (stats/window.ts): connections per second, reply latency, failures. */
function loadCells(l: Row): string[] {
  return [(l.connectionsPerSecond as number).toFixed(1), formatMs(l.replyP50 as number), formatMs(l.replyP99 as number), String(l.failures)];
}
