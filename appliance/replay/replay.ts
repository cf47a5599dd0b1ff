import { buildStages } from '../appliance';
import type { Config } from '../config/tables';
import { AlpRegistry } from '../stages/alp-registry';
import { RoundRobin } from '../stages/schedulers/rr';
import { PROTO_TCP } from '../wire/ipv4';
import { readCapture, type CaptureInfo } from './capture-file';
import { linkTypeName } from './link';
import { PacketDecoder, PacketFacts } from './packets';
import { Replayer, type Replayed } from './replayer';
import { RoutedFlows, type RoutedFlow } from './routed';
import { summarize, type AlpSummary, type ServerSummary } from './summary';

export interface ReplayResult {
  capture: { file: string; format: CaptureInfo['format']; linkTypes: string[]; packets: number; seconds: number };
  config: string;
  connections: Replayed[];
  routed: RoutedFlow[];
  servers: ServerSummary[];
  alps: AlpSummary[];
  /** What the outcome depends on that a capture cannot show, and what was skipped. */
  notes: string[];
}

/**
 * `socksalp replay`: a capture of intranet traffic through a configuration's stages, offline.
 * TCP to a VIP's SOCKS port (IPv4 or IPv6) goes to the Replayer (and what the appliance sent back, for the
 * closes); TCP and UDP between other addresses to the routed flows. Throws CaptureError for a
 * file that cannot be read.
 */
export function replayCapture(path: string, config: Config): ReplayResult {
  const scheduler = Replayer.watch(new RoundRobin());
  const stages = buildStages(config, new AlpRegistry(), scheduler);
  const replayer = new Replayer(config, stages, scheduler);
  const routed = new RoutedFlows(config.routes, stages.diversions, (t) => replayer.since(t));
  const decoder = new PacketDecoder();
  const vips = new Set(config.intranet.vips);
  const socksPort = config.appliance.socksPort;
  const f = new PacketFacts();
  let last = NaN;
  const info = readCapture(path, (p) => {
    replayer.tick(p.time);
    last = p.time;
    if (!decoder.decode(p, f)) return;
    const tcp = f.protocol === PROTO_TCP;
    if (tcp && f.dstPort === socksPort && vips.has(f.dst)) replayer.fromClient(f);
    else if (tcp && f.srcPort === socksPort && vips.has(f.src)) replayer.fromAppliance(f);
    else if (!vips.has(f.dst) && !vips.has(f.src)) routed.packet(f);
  });
  replayer.finish();
  decoder.close();
  const { servers, alps, notes } = summarize(config, replayer, decoder.counts);
  return {
    capture: {
      file: path, format: info.format, linkTypes: [...new Set(info.linkTypes)].map(linkTypeName), packets: info.records,
      seconds: Number.isNaN(last) ? 0 : replayer.since(last),
    },
    config: config.dir,
    connections: replayer.rows,
    routed: routed.flows,
    servers,
    alps,
    notes,
  };
}
