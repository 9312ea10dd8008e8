/**
 * Named anomaly counters (Suricata's decode events, Zeek's weirds).
 *
 * Every stage declares its anomalies once, at module load, with `defineAnomaly`,
 * and keeps the returned numeric id; the hot path then only does
 * `counters.inc(id)` — an array increment, no string work. Names are stable,
 * dotted and lower-case (`decode.ipv4.truncated`): SIEM users alert on them.
 */

export interface AnomalyDefinition {
  readonly id: number;
  readonly name: string;
  readonly description: string;
}

const MAX_ANOMALIES = 1024;
const definitions: AnomalyDefinition[] = [];
const byName = new Map<string, AnomalyDefinition>();

const NAME_RE = /^[a-z0-9_]+(\.[a-z0-9_]+)+$/;

/** Declare an anomaly once (idempotent by name) and get its counter id. */
export function defineAnomaly(name: string, description: string): number {
  const known = byName.get(name);
  if (known) return known.id;
  if (!NAME_RE.test(name)) throw new Error(`anomaly name not dotted lower-case: ${name}`);
  if (definitions.length >= MAX_ANOMALIES) throw new Error('too many anomaly definitions');
  const def: AnomalyDefinition = { id: definitions.length, name, description };
  definitions.push(def);
  byName.set(name, def);
  return def.id;
}

export function anomalyDefinitions(): readonly AnomalyDefinition[] {
  return definitions;
}

export function anomalyName(id: number): string {
  const d = definitions[id];
  return d ? d.name : `unknown.${id}`;
}

/** One set of counters per run (or per flow, where a flow keeps its own). */
export class AnomalyCounters {
  readonly counts = new Float64Array(MAX_ANOMALIES);

  inc(id: number, by = 1): void {
    this.counts[id] += by;
  }

  get(name: string): number {
    const d = byName.get(name);
    return d ? this.counts[d.id] : 0;
  }

  /** Non-zero counters by name, sorted by name. */
  toObject(): Record<string, number> {
    const out: Record<string, number> = {};
    const names: [string, number][] = [];
    for (const d of definitions) if (this.counts[d.id] !== 0) names.push([d.name, this.counts[d.id]]);
    names.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [n, c] of names) out[n] = c;
    return out;
  }

  total(): number {
    let t = 0;
    for (let i = 0; i < definitions.length; i++) t += this.counts[i];
    return t;
  }
}
