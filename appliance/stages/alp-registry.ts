import type { AlpRecord, AlpTable } from '../config/tables';

/**
 * The identity of an ALP across reloads. Every number that stands for an ALP (Cx_ALP of a
 * connection, the Datagram_ALP beside a queued datagram, the stages' arrays, the discard
 * counters, the census) is an id from here, not a position in the table in force: a name gets
 * its id the first time a table names it and keeps it for the life of the process, so a
 * reload that inserts, removes or reorders sections cannot make an established connection,
 * or a datagram already queued, stand for another ALP. Ids are never reused; a table of a
 * few dozen ALPs reloaded a few times stays a few dozen ids.
 *
 * What an established connection is judged by (its priority, its discard eligibility) is
 * copied into the connection when it is classified (patent steps 707-708), so a removed ALP's
 * connections keep their rules until they end; the registry keeps each ALP's last rules only
 * for the operators' views.
 */
export class AlpRegistry {
  private readonly byName = new Map<string, number>();
  /** By id: the name, and the record of the last table in force that had it. */
  readonly names: string[] = [];
  readonly records: AlpRecord[] = [];
  /** The ids of the table in force: its records in order, the default record last. */
  inForce: number[] = [];

  get size(): number {
    return this.names.length;
  }

  /** The id of `name`, if any table in force ever named it. */
  idOf(name: string): number | undefined {
    return this.byName.get(name);
  }

  isInForce(id: number): boolean {
    return this.inForce.includes(id);
  }

  /** Makes `alps` the table in force; returns its ids (records in order, the default last). */
  adopt(alps: AlpTable): number[] {
    const ids = [...alps.records, alps.fallback].map((r) => {
      let id = this.byName.get(r.name);
      if (id === undefined) {
        id = this.names.length;
        this.byName.set(r.name, id);
        this.names.push(r.name);
      }
      this.records[id] = r;
      return id;
    });
    this.inForce = ids;
    return ids;
  }
}
