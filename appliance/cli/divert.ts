import { readSecretFile } from '../config/credentials';
import { printDivertAnswer } from './divert-answer';
import { KEY_MAX, KEY_MIN } from '../config/key-file';
import { monitorRequest, parseHostPort } from '../monitor/client';
import { parseVerb, UsageError } from './usage';

export const DIVERT_USAGE = `Usage: socksalp divert --monitor ADDRESS:PORT --key-file FILE <command> [--mode drain|move]

Changes the diverted-address table of a running appliance over its network monitor's
channel (appliance.ini [monitor]), from another host: each request is signed with the key
(HMAC-SHA256 over the timestamp, a fresh nonce and the request); the appliance refuses bad
MACs, stale timestamps, replays, oversized messages and senders over the rate.

Commands:
  list                      the diverted-address table in force
  add ORIGINAL DIVERTED     divert connections to ORIGINAL (an address, address:port, name
                            or name:port; IPv6 with a port as [2001:db8::80]:8080) to DIVERTED
  remove ORIGINAL           stop diverting ORIGINAL
  save                      write the table in force back to the appliance's diverted.ini
  servers | conns | flows   the figures: servers, the Socks ALP Connection table, the
                            current connections (JSON, one answer; --filter TEXT, --limit N)

Options:
  -m, --monitor ADDRESS:PORT   the appliance's [monitor] listen address
  -k, --key-file FILE          the key: first line of FILE, at least ${KEY_MIN} bytes; FILE must
                               be a regular file owned by root or you, mode 600 (like an ssh key)
      --mode drain|move        drain (default): established connections stay where they are;
                               move: UDP flows follow at once, TCP connections that go
                               elsewhere are reset on both sides so that the client reconnects
      --filter TEXT, --limit N for conns and flows
  -h, --help                   show this help
`;

type Row = Record<string, unknown>;

export async function divert(argv: string[]): Promise<number> {
  const args = parseVerb(argv, DIVERT_USAGE, {
    monitor: { type: 'string', short: 'm' },
    'key-file': { type: 'string', short: 'k' },
    mode: { type: 'string' },
    filter: { type: 'string' },
    limit: { type: 'string' },
  }, true);
  if (!args) return 0;
  const [op, ...rest] = args.positionals;
  const read = op === 'servers' || op === 'conns' || op === 'flows';
  const want = read ? 0 : { list: 0, add: 2, remove: 1, save: 0 }[op as 'list'];
  if (want === undefined) throw new UsageError('divert what? list, add, remove, save, servers, conns or flows', DIVERT_USAGE);
  if (rest.length !== want) throw new UsageError(`divert ${op} takes ${want} argument(s)`, DIVERT_USAGE);
  if (args.values.monitor === undefined) throw new UsageError('--monitor ADDRESS:PORT is required', DIVERT_USAGE);
  if (args.values['key-file'] === undefined) throw new UsageError('--key-file FILE is required', DIVERT_USAGE);
  const at = parseHostPort(String(args.values.monitor));
  if (!at) throw new UsageError(`--monitor: expected ADDRESS:PORT, got ${JSON.stringify(args.values.monitor)}`, DIVERT_USAGE);
  const key = readSecretFile(String(args.values['key-file']), 'key', KEY_MIN, KEY_MAX);
  if (typeof key === 'string') throw new Error(key);
  let a: Row;
  try {
    const request = read
      ? { cmd: op, filter: args.values.filter ?? '', limit: Number(args.values.limit ?? 100) }
      : { cmd: 'divert', op, original: rest[0], diverted: rest[1], mode: args.values.mode };
    a = await monitorRequest(at.host, at.port, key, request);
  } finally {
    key.fill(0);
  }
  if (a.ok !== true) throw new Error(a.refused ? `refused (${String(a.refused)}): ${String(a.error)}` : String(a.error));
  if (read) process.stdout.write(JSON.stringify(a, null, 2) + '\n');
  else printDivertAnswer(op, a, (s) => process.stdout.write(s + '\n'));
  return 0;
}
