/** The recorded TLS conversations in test/tls/fixtures/ (`NAME.json`: chunks in order, hex). */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Direction } from '../../../src/flow/stream-parser.js';
import type { Chunk } from './sessions.js';

export const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;

/** The chunks of fixture `name` (file name without `.json`). */
export function fixtureChunks(name: string): Chunk[] {
  const j = JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as { chunks: [Direction, string][] };
  return j.chunks.map(([d, h]) => [d, Buffer.from(h, 'hex')] as const);
}

/** Every fixture, by file name, sorted. */
export function allFixtures(): [string, Chunk[]][] {
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [f, fixtureChunks(f.slice(0, -'.json'.length))]);
}
