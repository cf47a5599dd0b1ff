import type { Appliance } from '../appliance';
import { formatEndpoint } from '../divert/endpoint';
import { saveDiverted } from '../divert/save';
import { serverPair } from '../stages/server-diversion';

/**
 * The operator's commands on the diverted-address table (the network-management patent: "the
 * network monitor could be a human operator"), over the control socket:
 *   {"cmd":"divert","op":"list"}
 *   {"cmd":"divert","op":"add","original":"203.0.113.80:8080","diverted":"203.0.113.81:8080","mode":"drain"}
 *   {"cmd":"divert","op":"remove","original":"203.0.113.80:8080"}
 *   {"cmd":"divert","op":"save"}        (writes the live table back to diverted.ini)
 * `drain` (the default): established connections stay where they are; new connections follow
 * the table. `move`: what already goes elsewhere than the table now says is moved at once:
 * diverted UDP flows are retargeted (or released to their plain route), TCP flows of the
 * current connections and spliced SOCKS connections are reset on both sides, so that the
 * client's next connection follows the table. Each change is logged with who asked (`by`: the
 * control socket, or the monitor channel and its sender); the answer says what was applied, or
 * why not.
 */
export function divertCommand(a: Appliance, req: Record<string, unknown>, by = 'control socket'): object {
  const table = a.dispatcher.diversions;
  // A server diversion (stages/server-diversion.ts) names its two servers: "sa -> sc".
  const list = () => table.entries().map((e) => {
    const pair = serverPair(e, a.config.servers);
    const row = { original: formatEndpoint(e.original), diverted: formatEndpoint(e.diverted) };
    return pair ? { ...row, servers: `${pair[0].name} -> ${pair[1].name}` } : row;
  });
  const mode = String(req.mode ?? 'drain');
  if (mode !== 'drain' && mode !== 'move') return { ok: false, error: `mode is drain (established connections stay, new ones follow) or move (established ones follow now), not ${JSON.stringify(mode)}` };
  // After a change: what `move` did, for the answer and the log.
  const moved = (): string => {
    if (mode === 'drain') return 'established connections stay where they are';
    const socks = a.dispatcher.moveDiverted();
    const f = a.forwarder.diversion.move();
    return `moved now: ${f.moved} UDP flow(s) retargeted, ${f.released} released to their route, ${f.reset} TCP flow(s) and ${socks} SOCKS connection(s) reset`;
  };
  switch (req.op) {
    case 'list':
      return { ok: true, entries: list(), path: a.config.diverted?.path };
    case 'add': {
      const r = table.add(String(req.original ?? ''), String(req.diverted ?? ''));
      if (!r.ok) return { ok: false, error: r.message };
      const what = `${formatEndpoint(r.entry.original)} -> ${formatEndpoint(r.entry.diverted)}`;
      const done = moved();
      a.log(`divert: ${r.replaced ? 'changed' : 'added'} ${what} (${mode}: ${done}; by ${by})`);
      return { ok: true, message: `${r.replaced ? 'changed' : 'added'} ${what}; ${done}`, entries: list() };
    }
    case 'remove': {
      const gone = table.remove(String(req.original ?? ''));
      if (gone === undefined) return { ok: false, error: `no entry diverts ${JSON.stringify(String(req.original ?? ''))}` };
      const what = `${formatEndpoint(gone.original)} -> ${formatEndpoint(gone.diverted)}`;
      const done = moved();
      a.log(`divert: removed ${what} (${mode}: ${done}; by ${by})`);
      return { ok: true, message: `removed ${what}; ${done}`, entries: list() };
    }
    case 'save': {
      const path = a.config.diverted?.path;
      if (path === undefined) return { ok: false, error: 'no diverted.ini path is known' };
      try {
        saveDiverted(path, table);
      } catch (e) {
        return { ok: false, error: `could not write ${path}: ${(e as Error).message}` };
      }
      a.log(`divert: saved ${table.size} entries to ${path} (by ${by})`);
      return { ok: true, message: `saved ${table.size} entries to ${path}` };
    }
    default:
      return { ok: false, error: 'op is one of list, add, remove, save' };
  }
}
