/**
 * A validator for the subset of OpenAPI 3.1 / JSON Schema that
 * api/openapi.yaml uses: $ref (local), type (one or a list, 'null'
 * included), enum, properties, required, additionalProperties, items,
 * minItems/maxItems, minimum/maximum, minLength/maxLength, pattern,
 * format: date-time, oneOf. Anything else in a schema is an error, so the
 * spec cannot silently use a keyword this does not check.
 *
 * `strict`: objects without `additionalProperties` accept no undeclared
 * properties (catches drift between the agent and the document).
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

type Schema = Record<string, unknown>;

const KNOWN = new Set([
  '$ref', 'type', 'enum', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'maxItems', 'minimum', 'maximum',
  'minLength', 'maxLength', 'pattern', 'format', 'oneOf', 'description', 'example', 'default', 'title',
]);
const DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

export class OpenApi {
  readonly doc: Record<string, unknown>;

  constructor(path: string) {
    this.doc = parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  }

  schema(name: string): Schema {
    const s = ((this.doc.components as Schema).schemas as Record<string, Schema>)[name];
    if (!s) throw new Error(`no schema ${name}`);
    return s;
  }

  /** Schema of a response body: path, method, status code. */
  responseSchema(path: string, method: string, status: string): Schema {
    const op = ((this.doc.paths as Record<string, Schema>)[path] as Record<string, Schema>)[method];
    let resp = (op.responses as Record<string, Schema>)[status];
    if (!resp) throw new Error(`no response ${status} for ${method} ${path}`);
    if (resp.$ref) resp = this.resolve(resp.$ref as string);
    return ((resp.content as Record<string, Schema>)['application/json'] as Schema).schema as Schema;
  }

  resolve(ref: string): Schema {
    if (!ref.startsWith('#/')) throw new Error(`only local refs: ${ref}`);
    let cur: unknown = this.doc;
    for (const part of ref.slice(2).split('/')) cur = (cur as Record<string, unknown>)[part];
    if (!cur) throw new Error(`unresolved ${ref}`);
    return cur as Schema;
  }

  /** Problems (empty when `value` conforms). */
  validate(value: unknown, schema: Schema | string, strict = true): string[] {
    const errs: string[] = [];
    this.check(value, typeof schema === 'string' ? this.schema(schema) : schema, '$', strict, errs);
    return errs;
  }

  private check(v: unknown, s: Schema, at: string, strict: boolean, errs: string[]): void {
    for (const k of Object.keys(s)) if (!KNOWN.has(k)) errs.push(`${at}: schema keyword ${k} not supported by the test validator`);
    if (s.$ref) return this.check(v, this.resolve(s.$ref as string), at, strict, errs);
    if (s.oneOf) {
      const ok = (s.oneOf as Schema[]).filter((sub) => {
        const e: string[] = [];
        this.check(v, sub, at, strict, e);
        return e.length === 0;
      }).length;
      if (ok !== 1) errs.push(`${at}: matches ${ok} of oneOf`);
      return;
    }
    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
      const actual = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
      const fits = types.some((t) => t === actual || (t === 'integer' && typeof v === 'number' && Number.isInteger(v)) || (t === 'number' && typeof v === 'number'));
      if (!fits) {
        errs.push(`${at}: ${actual} is not ${types.join('|')}`);
        return;
      }
    }
    if (s.enum && !(s.enum as unknown[]).includes(v)) errs.push(`${at}: ${JSON.stringify(v)} not in enum`);
    if (typeof v === 'string') {
      if (s.minLength !== undefined && v.length < (s.minLength as number)) errs.push(`${at}: shorter than ${s.minLength}`);
      if (s.maxLength !== undefined && v.length > (s.maxLength as number)) errs.push(`${at}: longer than ${s.maxLength}`);
      if (s.pattern && !new RegExp(s.pattern as string).test(v)) errs.push(`${at}: does not match ${s.pattern}`);
      if (s.format === 'date-time' && !(DATE_TIME.test(v) && Number.isFinite(Date.parse(v)))) errs.push(`${at}: not date-time: ${v}`);
    }
    if (typeof v === 'number') {
      if (s.minimum !== undefined && v < (s.minimum as number)) errs.push(`${at}: below ${s.minimum}`);
      if (s.maximum !== undefined && v > (s.maximum as number)) errs.push(`${at}: above ${s.maximum}`);
    }
    if (Array.isArray(v)) {
      if (s.minItems !== undefined && v.length < (s.minItems as number)) errs.push(`${at}: fewer than ${s.minItems} items`);
      if (s.maxItems !== undefined && v.length > (s.maxItems as number)) errs.push(`${at}: more than ${s.maxItems} items`);
      if (s.items) v.forEach((x, i) => this.check(x, s.items as Schema, `${at}[${i}]`, strict, errs));
    }
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const props = (s.properties ?? {}) as Record<string, Schema>;
      for (const r of (s.required ?? []) as string[]) if (!(r in o)) errs.push(`${at}: missing ${r}`);
      for (const [k, val] of Object.entries(o)) {
        if (props[k]) this.check(val, props[k], `${at}.${k}`, strict, errs);
        else if (s.additionalProperties === false || (strict && s.additionalProperties === undefined && s.properties)) errs.push(`${at}: undeclared property ${k}`);
        else if (s.additionalProperties && typeof s.additionalProperties === 'object') this.check(val, s.additionalProperties as Schema, `${at}.${k}`, strict, errs);
      }
    }
  }
}
