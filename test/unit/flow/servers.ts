import type { ApplianceSettings, Config, ServerRecord } from '../../../appliance/config/tables';
import { ip } from '../wire/packets';

/** The flow tests' client and the VIP it connects to. */
export const CLIENT = ip('198.18.0.2');
export const VIP = ip('198.18.0.100');

/**
 * Server `n` as the lab has it: 198.19.n.2:1080 behind TAP alp-NAME (198.19.n.1/24), capacity
 * 15, every ALP, SOCKS4 and 5, not the default; `extra` changes any of it.
 */
export function server(name: string, n: number, extra: Partial<ServerRecord> = {}): ServerRecord {
  return {
    name, address: ip(`198.19.${n}.2`), port: 1080, tap: `alp-${name}`, local: { address: ip(`198.19.${n}.1`), length: 24 },
    capacity: 15, alps: { all: true }, isDefault: false, versions: ['4', '5'], queueLimit: 64, ...extra,
  };
}

/**
 * A configuration for the flow tests: `servers` behind the VIP on alp0, HTTP (port 80) the one
 * ALP, no capacity reserved for priorities; `over` replaces whole parts, `appliance` some of the
 * [appliance] settings.
 */
export function flowConfig(servers: ServerRecord[], over: Partial<Config> = {}, appliance: Partial<ApplianceSettings> = {}): Config {
  return {
    dir: '/test', loadedAt: new Date(0),
    appliance: { socksPort: 1080, idleTimeout: 30, halfOpenTimeout: 10, maxHalfOpen: 100, connectTimeout: 5, maxConnections: 1000, controlSocket: '/x', rpFilter: 'strict', workers: 1, watchdog: 0, ...appliance },
    intranet: { tun: 'alp0', vips: [VIP], mtu: 1500 },
    capacityForPriority: [{ priority: 0, capacity: 0 }],
    routes: [], diversion: { maxFlows: 1024, udpTimeout: 30, tcpTimeout: 300, unrepliedTimeout: 10, dnsTtl: 30 },
    alps: { records: [{ name: 'http', ports: [80], priority: 7, discardEligible: false }], fallback: { name: 'default', ports: [], priority: 4, discardEligible: true } },
    servers,
    ...over,
  };
}
