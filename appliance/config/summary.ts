import { formatAddress, formatAddressPort, isV6 } from '../addr/address';
import { formatSyncEndpoint } from './ha-ini';
import type { VrrpSettings } from './vrrp-ini';
import { formatPrefixAny } from '../addr/prefix';
import { formatIpv4, formatMac } from './address';
import type { Config } from './tables';
import { formatTable } from '../text/table';
import { printable } from '../text/printable';
import { describeCredentials } from './credentials';
import { formatEndpoint } from '../divert/endpoint';
import { serverPair } from '../stages/server-diversion';

/**
 * The one-screen summary `socksalp check` prints for a valid configuration. Names, ports and
 * addresses were validated on loading; the one free-text value (the control socket's path)
 * and the directory are escaped, in full, as text from outside. Servers with credentials
 * (auth = own) get a line each after the table: the username, the password file and the
 * password's length, never the password. The diverted-address table, when it has entries,
 * comes last.
 */
export function summarizeConfig(c: Config): string {
  const a = c.appliance;
  const rules = c.capacityForPriority.map((r) => `priority>=${r.priority} -> capacity>=${r.capacity}`).join(', ');
  const routes = c.routes.length === 0
    ? 'none (only SOCKS traffic is forwarded)'
    : c.routes.map((r) => `${formatPrefixAny(r.prefix)} -> ${r.tap}${r.gateway === undefined ? '' : ` via ${formatAddress(r.gateway)}`}`).join(', ');
  const alpRows = [...c.alps.records, c.alps.fallback].map((r) => [
    r.name,
    r.ports.length ? r.ports.join(',') : '(others)',
    String(r.priority),
    r.discardEligible ? 'yes' : 'no',
  ]);
  const serverRows = c.servers.map((s) => [
    s.name,
    formatAddressPort(s.address, s.port),
    s.tap,
    formatPrefixAny(s.local),
    s.mac ? formatMac(s.mac) : isV6(s.address) ? 'ndp' : 'arp',
    String(s.capacity),
    s.alps.all ? 'ALL' : s.alps.names.join(','),
    s.versions.join(','),
    String(s.queueLimit),
    s.isDefault ? 'yes' : '',
  ]);
  return [
    `configuration ${printable(c.dir, Infinity)}: valid`,
    `  appliance  socks_port ${a.socksPort}, idle_timeout ${a.idleTimeout}s, half_open_timeout ${a.halfOpenTimeout}s (max ${a.maxHalfOpen}), connect_timeout ${a.connectTimeout}s, max_connections ${a.maxConnections}, workers ${a.workers}, watchdog_s ${a.watchdog || 'off'}`,
    `  control    ${printable(a.controlSocket, Infinity)}`,
    `  intranet   tun ${c.intranet.tun} (mtu ${c.intranet.mtu}), vip ${c.intranet.vips.map(formatAddress).join(', ')}`,
    `  selection  ${rules}`,
    `  routes     ${routes}`,
    `  diverted   ${divertedCount(c)}`,
    ...(c.monitor ? [`  monitor    listen ${formatIpv4(c.monitor.address)}:${c.monitor.port}, key_file ${printable(c.monitor.key.file, Infinity)} (key: ${c.monitor.key.bytes.length} bytes), max_skew ${c.monitor.maxSkew}s, rate ${c.monitor.rate}/s`] : []),
    ...(c.ha ? [`  sync       listen ${formatSyncEndpoint(c.ha.listen)}, peers ${c.ha.peers.map(formatSyncEndpoint).join(', ')}, key_file ${printable(c.ha.key.file, Infinity)} (key: ${c.ha.key.bytes.length} bytes), interval ${c.ha.intervalMs} ms, holds at most ${c.ha.maxEntries}, role ${c.ha.role}${c.ha.member ? ` ${c.ha.member.index} of ${c.ha.member.count}` : ''}`] : []),
    ...(c.ha?.vrrp ? [`  vrrp       ${vrrpLine(c.ha.vrrp)}`] : []),
    ...(c.ha?.bgp ? [`  bgp        as ${c.ha.bgp.asn}, router_id ${formatAddress(c.ha.bgp.routerId)}, neighbors ${c.ha.bgp.neighbors.map(formatAddress).join(', ')} (as ${c.ha.bgp.neighborAsn}), keepalive ${c.ha.bgp.keepaliveS}s, hold ${c.ha.bgp.holdS}s`] : []),
    ...(c.metrics ? [`  metrics    listen ${formatIpv4(c.metrics.address)}:${c.metrics.port} (GET /metrics)`] : []),
    ...(c.capture ? [`  capture    drops ${printable(c.capture.drops, Infinity)} (max_bytes ${c.capture.maxBytes}, snaplen ${c.capture.snaplen})`] : []),
    ...(c.export ? [`  export     ipfix ${formatIpv4(c.export.address)}:${c.export.port} (UDP), interim ${c.export.interim}s, template_refresh ${c.export.templateRefresh}s, observation_domain ${c.export.observationDomain}`] : []),
    '',
    'Socks ALP Configuration table (alp.ini)',
    formatTable(['ALP', 'PORTS', 'PRIORITY', 'DISCARD_ELIGIBLE'], alpRows),
    '',
    'Socks Server ALP Configuration table (servers.ini)',
    formatTable(['SERVER', 'ADDRESS', 'TAP', 'LOCAL', 'MAC', 'CAPACITY', 'ALPS', 'SOCKS', 'QUEUE', 'DEFAULT'], serverRows),
    ...credentialLines(c),
    ...divertedLines(c),
  ].join('\n');
}

/** ha.ini [vrrp] in one line: what `socksalp keepalived` writes into keepalived.conf. */
function vrrpLine(v: VrrpSettings): string {
  const to = v.unicastPeers.length ? `unicast to ${v.unicastPeers.map(formatAddress).join(', ')}` : 'multicast';
  return `${v.addresses.map(formatPrefixAny).join(', ')} on ${v.interface}, router_id ${v.routerId}, priority ${v.priority}, advert_int ${v.advertInt}s, ${to}${v.preempt ? '' : ', nopreempt'}`;
}

function divertedCount(c: Config): string {
  const d = c.diverted;
  if (!d?.present) return 'none (no diverted.ini)';
  const n = d.entries.length;
  return n === 0 ? 'none (diverted.ini has no entries)' : `${n} entr${n === 1 ? 'y' : 'ies'}`;
}

/** The diverted-address table; a diverted side without a port keeps the destination's. */
function divertedLines(c: Config): string[] {
  const entries = c.diverted?.entries ?? [];
  if (entries.length === 0) return [];
  const rows = entries.map((e) => {
    const pair = serverPair(e, c.servers);
    const note = (e.diverted.port === undefined ? ' (port kept)' : '') + (pair ? ` (server diversion: new connections for ${pair[0].name} go to ${pair[1].name})` : '');
    return [formatEndpoint(e.original), formatEndpoint(e.diverted) + note];
  });
  return ['', 'Diverted addresses (diverted.ini)', formatTable(['ORIGINAL', 'DIVERTED'], rows)];
}

function credentialLines(c: Config): string[] {
  const own = c.servers.filter((s) => s.credentials !== undefined);
  if (own.length === 0) return [];
  const width = Math.max(...own.map((s) => s.name.length));
  return [
    '',
    'RFC 1929 credentials the appliance presents (auth = own; every other server: passthrough)',
    ...own.map((s) => `  ${s.name.padEnd(width)}  ${describeCredentials(s.credentials!)}`),
  ];
}
