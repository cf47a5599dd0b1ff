import type { Appliance } from '../appliance';
import { formatEndpoint } from '../divert/endpoint';
import { saveDiverted } from '../divert/save';

/**
 * The operator's commands on the diverted-address table (the network-management patent: "the
 * network monitor could be a human operator"), over the control socket:
 *   {"cmd":"divert","op":"list"}
 *   {"cmd":"divert","op":"add","original":"203.0.113.80:8080","diverted":"203.0.113.81:8080","mode":"drain"}
 *   {"cmd":"divert","op":"remove","original":"203.0.113.80:8080"}
 *   {"cmd":"divert","op":"save"}        (writes the live table back to diverted.ini)
 * `drain` (the default): established connections stay where they are; new connections follow
 * the table. Each change is logged with who asked (`by`: the control socket, or the monitor
 * channel and its sender); the answer says what was applied, or why not.
 */
export function divertCommand(a: Appliance, req: Record<string, unknown>, by = 'control socket'): object {
  const table = a.dispatcher.diversions;
  const list = () => table.entries().map((e) => ({ original: formatEndpoint(e.original), diverted: formatEndpoint(e.diverted) }));
  const mode = String(req.mode ?? 'drain');
  if (mode !== 'drain') return { ok: false, error: `mode "${mode}" is not available: only drain (established connections stay, new ones follow)` };
  switch (req.op) {
    case 'list':
      return { ok: true, entries: list(), path: a.config.diverted?.path };
    case 'add': {
      const r = table.add(String(req.original ?? ''), String(req.diverted ?? ''));
      if (!r.ok) return { ok: false, error: r.message };
      const what = `${formatEndpoint(r.entry.original)} -> ${formatEndpoint(r.entry.diverted)}`;
      a.log(`divert: ${r.replaced ? 'changed' : 'added'} ${what} (drain: new connections only; by ${by})`);
      return { ok: true, message: `${r.replaced ? 'changed' : 'added'} ${what}; established connections stay where they are`, entries: list() };
    }
    case 'remove': {
      const gone = table.remove(String(req.original ?? ''));
      if (gone === undefined) return { ok: false, error: `no entry diverts ${JSON.stringify(String(req.original ?? ''))}` };
      const what = `${formatEndpoint(gone.original)} -> ${formatEndpoint(gone.diverted)}`;
      a.log(`divert: removed ${what} (drain: new connections only; by ${by})`);
      return { ok: true, message: `removed ${what}; established connections stay where they are`, entries: list() };
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
