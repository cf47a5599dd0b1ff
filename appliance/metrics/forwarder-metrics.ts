import type { Appliance } from '../appliance';
import { DROP_REASONS } from '../forward/drops';
import { REASSEMBLY_DROPS } from '../forward/reassembly';
import { REASSEMBLY6_DROPS } from '../forward/reassembly6';
import { bag, type Exposition } from './exposition';

/**
 * The forwarder's part of the metrics: drops by reason, reassembly, neighbours, the packet
 * pool, the devices, and the routed flows' diversion (the current connections, the enhanced
 * name server).
 */
export function forwarderMetrics(x: Exposition, a: Appliance): void {
  const f = a.forwarder;
  x.family('socksalp_drops_total', 'counter', 'Datagrams the forwarder dropped, by reason.');
  for (const r of DROP_REASONS) x.sample([['reason', r]], f.drops[r]);
  x.family('socksalp_internal_errors_total', 'counter', 'Datagrams a bug of the appliance met (each dropped; the first of each kind logged).').sample([], f.internalErrors);
  // Both reassemblers in each family, told apart by a label: sum() over it gives all datagrams.
  const r = f.reassembler;
  const r6 = f.reassembler6;
  const V4: [string, string] = ['family', 'ipv4'];
  const V6: [string, string] = ['family', 'ipv6'];
  x.family('socksalp_reassembly_datagrams_total', 'counter', 'Fragmented datagrams reassembled (IPv4: RFC 791, RFC 815; IPv6: RFC 8200 4.5).').sample([V4], r.completed).sample([V6], r6.completed);
  x.family('socksalp_reassembly_duplicates_total', 'counter', 'Fragments ignored as identical copies of one already held (RFC 5722).').sample([V4], r.duplicates).sample([V6], r6.duplicates);
  x.family('socksalp_reassembly_atomic_fragments_total', 'counter', 'IPv6 atomic fragments (offset 0, no more fragments) taken as whole datagrams (RFC 6946).').sample([V6], r6.atomic);
  x.family('socksalp_reassembly_drops_total', 'counter', 'Datagrams whose reassembly was given up, by family and reason.');
  for (const k of REASSEMBLY_DROPS) x.sample([V4, ['reason', k]], r.drops[k]);
  for (const k of REASSEMBLY6_DROPS) x.sample([V6, ['reason', k]], r6.drops[k]);
  x.family('socksalp_reassembly_pending', 'gauge', 'Datagrams being reassembled.').sample([V4], r.pending).sample([V6], r6.pending);
  bag(x, 'socksalp_neighbour_events_total', 'Reachability of next hops: probes sent, confirmations by ARP, claims refused, moves, failures.', f.reachability.stats);
  x.family('socksalp_packet_pool_free', 'gauge', 'Free datagram slots of the packet pool.').sample([], a.pool.available);
  const devices = f.devices;
  x.family('socksalp_device_up', 'gauge', 'Whether each TUN or TAP device is open (1) or failed (0).');
  for (const d of devices) x.sample([['device', d.name], ['kind', d.kind]], d.fd >= 0 ? 1 : 0);
  x.family('socksalp_device_bytes_total', 'counter', 'Bytes read from (rx) and written to (tx) each device.');
  for (const d of devices) x.sample([['device', d.name], ['direction', 'rx']], d.stats.rxBytes).sample([['device', d.name], ['direction', 'tx']], d.stats.txBytes);
  x.family('socksalp_device_packets_total', 'counter', 'Frames read from (rx) and written to (tx) each device.');
  for (const d of devices) x.sample([['device', d.name], ['direction', 'rx']], d.stats.rxPackets).sample([['device', d.name], ['direction', 'tx']], d.stats.txPackets);
  x.family('socksalp_device_errors_total', 'counter', 'Failed reads and writes of each device.');
  for (const d of devices) x.sample([['device', d.name]], d.stats.errors);
  const v = f.diversion;
  x.family('socksalp_current_connections_entries', 'gauge', 'Routed flows in the current connections (diverted flows, patent figure 2b).').sample([], v.flows.size);
  x.family('socksalp_current_connections_limit', 'gauge', 'appliance.ini [diversion] max_flows.').sample([], v.flows.capacity);
  bag(x, 'socksalp_current_connections_events_total', 'Rows of the current connections created, removed, refused (full, no port) and expired.', v.flows.stats);
  bag(x, 'socksalp_diversion_events_total', 'What the diversion of routed flows did (diverted, returned, ICMP translated, reset, moved, released).', v.stats);
  bag(x, 'socksalp_name_server_events_total', 'Queries the enhanced name server answered, answered with no data, refused (badvers), passed on, or found malformed.', v.ens.counters);
}
