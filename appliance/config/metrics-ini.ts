import { quote } from '../text/printable';
import { parseListen } from './address';
import type { SectionReader } from './fields';

/** appliance.ini [metrics]: the Prometheus endpoint (metrics/server.ts). */
export interface MetricsSettings {
  /** `listen = ADDRESS:PORT`. */
  address: number;
  port: number;
}

/** [metrics]: `listen` turns the endpoint on; absent, there is none (the default). */
export function readMetrics(m: SectionReader): MetricsSettings | undefined {
  const listen = m.raw('listen', false);
  const at = listen === undefined ? undefined : parseListen(listen);
  if (listen === undefined) {
    if (m.has('listen')) m.problem('listen', 'value is empty');
  } else if (at === undefined) {
    m.problem('listen', `expected ADDRESS:PORT like 198.18.0.1:9130, got ${quote(listen)}`);
  }
  m.done();
  return at;
}
