import { readdirSync } from 'node:fs';
import type { ReadOptions } from '../../src/cli/pipeline.js';

/** Captures in pcaps/ that have (or should have) expected events beside them. */
export function goldenCaptures(dir = 'pcaps'): string[] {
  return readdirSync(dir)
    .filter((n) => /\.(pcap|pcapng|cap)(\.gz)?$/.test(n))
    .sort();
}

/** The options golden files are made with (kept in one place). */
export function goldenReadOptions(inputs: string[]): Omit<ReadOptions, 'output'> {
  return { inputs };
}
