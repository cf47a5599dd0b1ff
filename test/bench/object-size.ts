import { getHeapSnapshot } from 'node:v8';

/**
 * The size of one object of a class, from a V8 heap snapshot of this process: the object
 * itself (its in-object fields) and what it alone holds, by kind: heap numbers (the boxes V8
 * gives a field holding a double, or an integer outside the 31-bit small-integer range),
 * strings, and out-of-object property stores. Shared things (the map, the empty string, a
 * cached number string) are counted once per process, not per object.
 */
export interface ObjectSize {
  instances: number;
  /** Mean bytes per instance. */
  self: number;
  heapNumbers: number;
  strings: number;
  other: number;
  total: number;
  /** Fields that hold a heap number, and in how many of the instances. */
  boxed: Record<string, number>;
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: (string[] | string)[]; edge_fields: string[]; edge_types: (string[] | string)[] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

const STRING_TYPES = new Set(['string', 'concatenated string', 'sliced string']);
/** Kinds of node an object can own: followed from the object (strings through their parts). */
const OWNABLE = new Set([...STRING_TYPES, 'number', 'array', 'hidden']);

export async function objectSize(className: string): Promise<ObjectSize> {
  const chunks: string[] = [];
  // Numeric values exposed: every field then shows by name, a double-represented one too.
  for await (const chunk of getHeapSnapshot({ exposeNumericValues: true })) chunks.push(String(chunk));
  const s = JSON.parse(chunks.join('')) as Snapshot;
  chunks.length = 0;
  const m = s.snapshot.meta;
  const NF = m.node_fields.length;
  const EF = m.edge_fields.length;
  const [nType, nName, nSelf, nEdges] = ['type', 'name', 'self_size', 'edge_count'].map((f) => m.node_fields.indexOf(f));
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => m.edge_fields.indexOf(f));
  const nodeTypes = m.node_types[nType] as string[];
  const edgeTypes = m.edge_types[eType] as string[];
  const { nodes, edges, strings } = s;
  const count = nodes.length / NF;
  const firstEdge = new Float64Array(count + 1);
  for (let i = 0, e = 0; i < count; i++) {
    firstEdge[i] = e;
    e += nodes[i * NF + nEdges] * EF;
  }
  const typeOf = (n: number) => nodeTypes[nodes[n * NF + nType]];

  // Per instance, the ownable nodes it reaches (not through another object), with the field that led there.
  const reached: { node: number; field: string }[][] = [];
  const refs = new Map<number, number>();
  for (let n = 0; n < count; n++) {
    if (typeOf(n) !== 'object' || strings[nodes[n * NF + nName]] !== className) continue;
    const found: { node: number; field: string }[] = [];
    const seen = new Set<number>();
    const walk = (from: number, field: string, depth: number) => {
      for (let e = firstEdge[from]; e < firstEdge[from + 1]; e += EF) {
        const et = edgeTypes[edges[e + eType]];
        if (et === 'weak' || et === 'shortcut') continue;
        const name = et === 'element' || et === 'hidden' ? '' : strings[edges[e + eName]];
        if (name === 'map' || name === '__proto__') continue;
        const to = edges[e + eTo] / NF;
        if (seen.has(to) || !OWNABLE.has(typeOf(to))) continue;
        seen.add(to);
        const f = field || name;
        found.push({ node: to, field: f });
        if (depth < 8 && typeOf(to) !== 'number') walk(to, f, depth + 1);
      }
    };
    walk(n, '', 0);
    for (const r of found) refs.set(r.node, (refs.get(r.node) ?? 0) + 1);
    reached.push([{ node: n, field: '' }, ...found]);
  }
  const sum = { self: 0, heapNumbers: 0, strings: 0, other: 0 };
  const boxed: Record<string, number> = {};
  for (const list of reached) {
    sum.self += nodes[list[0].node * NF + nSelf];
    for (const { node, field } of list.slice(1)) {
      if (refs.get(node) !== 1) continue; // shared with another instance: not this one's own
      const size = nodes[node * NF + nSelf];
      const t = typeOf(node);
      if (t === 'number') {
        if (size === 0) continue; // a small integer, in the object itself
        sum.heapNumbers += size;
        boxed[field] = (boxed[field] ?? 0) + 1;
      } else if (STRING_TYPES.has(t)) sum.strings += size;
      else sum.other += size;
    }
  }
  const k = Math.max(1, reached.length);
  return {
    instances: reached.length,
    self: sum.self / k,
    heapNumbers: sum.heapNumbers / k,
    strings: sum.strings / k,
    other: sum.other / k,
    total: (sum.self + sum.heapNumbers + sum.strings + sum.other) / k,
    boxed,
  };
}
