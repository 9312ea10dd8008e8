/**
 * Give every own field of `o` a value no constructor sets (numbers, booleans,
 * strings, nulls, and the fields named in `objects`): a `reset` that forgets
 * a field leaves it dirty, and comparing with a new object fails. For the
 * pooled objects' reset tests (test/flow/flow-pool, test/tls/parser-pool).
 */
export function dirty(o: object, objects: readonly string[] = []): void {
  const r = o as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    const v = r[k];
    if (typeof v === 'number') r[k] = v + 12345;
    else if (typeof v === 'boolean') r[k] = !v;
    else if (typeof v === 'string') r[k] = v + 'dirty';
    else if (v === null || objects.includes(k)) r[k] = { dirty: true };
  }
}
