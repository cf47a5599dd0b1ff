import { formatAddressPort } from '../addr/address';
import type { Appliance } from '../appliance';
import { SERVER_STATES, serverState } from '../control/snapshot';
import { END_REASONS } from '../stats/end-reason';
import { bag, type Exposition, type Labels } from './exposition';
import { forwarderMetrics } from './forwarder-metrics';
import { runtimeMetrics } from './runtime-metrics';

/**
 * What `GET /metrics` exports: the appliance's counters and gauges under Prometheus's naming
 * conventions (base units, `_total` on counters, `socksalp_` before the appliance's own).
 * Every figure is read from a counter the data path keeps anyway, or from the census's last
 * pass (flow/census.ts), so a scrape costs O(servers x ALPs), never a walk of the connection
 * table. Bags of counters of one part of the appliance are one family with an `event` label
 * (`socksalp_dispatcher_events_total{event="refused"}`), named as `ctl status` names them,
 * in kebab case. "Server" and "ALP" labels carry names; a connection that ended before a
 * server (or an ALP) was chosen has the empty label value, which no INI section can be named.
 */
export function writeMetrics(x: Exposition, a: Appliance): void {
  const servers = a.config.servers.map((s) => s.name);
  processMetrics(x, a);
  runtimeMetrics(x, a.runtime);
  connectionMetrics(x, a, servers);
  serverMetrics(x, a, servers);
  forwarderMetrics(x, a);
}

function gauge(x: Exposition, name: string, help: string, value: number): void {
  x.family(name, 'gauge', help).sample([], value);
}

function processMetrics(x: Exposition, a: Appliance): void {
  x.family('socksalp_build_info', 'gauge', 'The running socksalp, by version (always 1).').sample([['version', a.version]], 1);
  gauge(x, 'process_start_time_seconds', 'When the appliance started, in seconds since the Unix epoch.', a.started / 1000);
  gauge(x, 'socksalp_uptime_seconds', 'Seconds since the appliance started.', (Date.now() - a.started) / 1000);
  gauge(x, 'process_resident_memory_bytes', 'Resident memory of the appliance process.', process.memoryUsage.rss());
  const cpu = process.cpuUsage();
  x.family('process_cpu_seconds_total', 'counter', 'User and system CPU time the appliance process has spent.').sample([], (cpu.user + cpu.system) / 1e6);
  gauge(x, 'socksalp_config_loaded_timestamp_seconds', 'When the configuration in force was read (start or the last applied reload).', a.config.loadedAt.getTime() / 1000);
  gauge(x, 'socksalp_config_last_reload_successful', 'Whether the last reload was applied (1; also before any) or refused (0).', a.lastReload === undefined || a.lastReload.ok ? 1 : 0);
}

function connectionMetrics(x: Exposition, a: Appliance, servers: string[]): void {
  const alps = a.alps.names;
  const d = a.dispatcher;
  const t = d.table;
  const s = a.config.appliance;
  x.family('socksalp_connections_total', 'counter', 'Connections that left the Socks ALP Connection table, by server, ALP and why they ended (server or alp "" when none was chosen).');
  a.flowStats.forEachEnded((server, alp, reason, count) => {
    x.sample([['server', servers[server] ?? ''], ['alp', alps[alp] ?? ''], ['outcome', END_REASONS[reason] ?? String(reason)]], count);
  });
  const census = d.census;
  x.family('socksalp_server_connections_active', 'gauge', 'Spliced connections per server (the census: at most a second old).');
  servers.forEach((name, i) => x.sample([['server', name]], census.activeByServer[i] ?? 0));
  x.family('socksalp_alp_connections_active', 'gauge', 'Spliced connections per ALP (the census: at most a second old).');
  alps.forEach((name, id) => x.sample([['alp', name]], census.activeByAlp[id] ?? 0));
  x.family('socksalp_alp_bytes_total', 'counter', 'IP bytes forwarded either way for connections of each ALP.');
  alps.forEach((name, id) => x.sample([['alp', name]], a.flowStats.alpBytes[id] ?? 0));
  gauge(x, 'socksalp_connection_table_entries', 'Connections in the Socks ALP Connection table, in every state.', t.size);
  gauge(x, 'socksalp_connection_table_limit', 'appliance.ini max_connections.', s.maxConnections);
  gauge(x, 'socksalp_connection_table_half_open', 'Connections whose SOCKS request is not complete yet.', t.halfOpen);
  gauge(x, 'socksalp_connection_table_half_open_limit', 'appliance.ini max_half_open.', s.maxHalfOpen);
  gauge(x, 'socksalp_connection_timers', 'Connections with a timer running (handshakes, replays, lingering closes).', d.watching);
  bag(x, 'socksalp_connection_table_events_total', 'Entries of the connection table created, removed, refused (full, half-open) and expired (idle, half-open).', t.stats);
  bag(x, 'socksalp_dispatcher_events_total', 'What the dispatcher did with connections (as ctl status "dispatcher" counts it).', d.stats);
  bag(x, 'socksalp_rfc5961_events_total', 'RFC 5961 checks of resets, SYNs and data out of the window, and the challenge ACKs sent.', d.guard.stats);
  bag(x, 'socksalp_icmp6_events_total', 'The appliance\'s own ICMPv6: echo replies, errors sent, errors the rate limit kept back.', a.forwarder.icmp6.stats);
  for (const [kind, name, what] of [
    ['handshake', 'socksalp_handshake_duration_seconds', 'the server leg\'s SYN to the server\'s SYN-ACK'],
    ['reply', 'socksalp_socks_reply_duration_seconds', 'the server leg\'s SYN to the server\'s SOCKS reply'],
  ] as const) {
    x.family(name, 'histogram', `Time from ${what}, per server.`);
    servers.forEach((server, i) => x.histogram([['server', server]], a.flowStats.histogram(kind, i)));
  }
}

function serverMetrics(x: Exposition, a: Appliance, servers: string[]): void {
  const e = a.forwarder.egress;
  const checks = a.dispatcher.checker.status;
  const states = servers.map((_, i) => serverState(a, i));
  const each = (name: string, type: 'gauge' | 'counter', help: string, value: (i: number) => number, extra?: Labels) => {
    x.family(name, type, help);
    servers.forEach((server, i) => x.sample([['server', server], ...(extra ?? [])], value(i)));
  };
  x.family('socksalp_server_info', 'gauge', 'Each server\'s SOCKS address and TAP (always 1), to join on the server label.');
  a.config.servers.forEach((r, i) => x.sample([['server', servers[i]], ['address', formatAddressPort(r.address, r.port)], ['tap', r.tap]], 1));
  x.family('socksalp_server_state', 'gauge', `Each server's state, 1 for the state it is in: ${SERVER_STATES.join(', ')}.`);
  servers.forEach((server, i) => { for (const st of SERVER_STATES) x.sample([['server', server], ['state', st]], states[i] === st ? 1 : 0); });
  x.family('socksalp_server_check_state', 'gauge', 'Each server\'s active health check, 1 for its state: off (no check), up, down.');
  servers.forEach((server, i) => { for (const st of ['off', 'up', 'down'] as const) x.sample([['server', server], ['state', st]], checks[i].state === st ? 1 : 0); });
  x.family('socksalp_server_checks_total', 'counter', 'Health-check probes through each server, by result (pass, fail).');
  servers.forEach((server, i) => x.sample([['server', server], ['result', 'pass']], checks[i].passes).sample([['server', server], ['result', 'fail']], checks[i].failures));
  each('socksalp_server_check_latency_seconds', 'gauge', 'SYN to verdict of the last health-check probe that passed (0 before one has).', (i) => checks[i].latencyMs / 1000);
  each('socksalp_server_failures_total', 'counter', 'Passive failures of each server (refused or timed-out handshakes, resets) that held it down.', (i) => a.health.failures[i]);
  each('socksalp_server_capacity', 'gauge', 'servers.ini capacity (Socks_Server_Capacity).', (i) => a.config.servers[i].capacity);
  each('socksalp_server_queue_packets', 'gauge', 'Datagrams waiting in each server\'s output queue.', (i) => e.queues[i].length);
  each('socksalp_server_queue_limit_packets', 'gauge', 'servers.ini queue_limit: the output queue\'s bound.', (i) => e.queues[i].bound);
  x.family('socksalp_server_bytes_total', 'counter', 'IP bytes to and from each server (direction "to-server", "from-server").');
  servers.forEach((server, i) => x.sample([['server', server], ['direction', 'to-server']], e.stats[i].bytesOut).sample([['server', server], ['direction', 'from-server']], e.stats[i].bytesIn));
  x.family('socksalp_server_packets_total', 'counter', 'Datagrams to and from each server (direction "to-server", "from-server").');
  servers.forEach((server, i) => x.sample([['server', server], ['direction', 'to-server']], e.stats[i].packetsOut).sample([['server', server], ['direction', 'from-server']], e.stats[i].packetsIn));
  // Two families from the egress's two counters: the priority is the one each datagram had when
  // it was discarded, so a reload that changes an ALP's priority does not move its past count.
  x.family('socksalp_alp_discards_total', 'counter', 'Datagrams congestion control discarded from a server\'s queue, by ALP (nonzero only).');
  const names = a.alps.names;
  servers.forEach((server, i) => {
    const row = e.discardsByAlp[i];
    for (let id = 0; id < row.length; id++) if (row[id] !== 0) x.sample([['server', server], ['alp', names[id] ?? '']], row[id]);
  });
  x.family('socksalp_priority_discards_total', 'counter', 'Datagrams congestion control discarded from a server\'s queue, by the priority they had (nonzero only).');
  servers.forEach((server, i) => {
    const row = e.discardsByPriority[i];
    for (let p = 0; p < row.length; p++) if (row[p] !== 0) x.sample([['server', server], ['priority', String(p)]], row[p]);
  });
}
