/**
 * Several inputs read as one, in time order: a k-way merge on `tsMicros`,
 * ties broken by input index (so the merge is stable and each file keeps its
 * own order).
 *
 * Inputs are opened lazily. Every file is first probed for its first packet
 * (then closed again); a file is reopened only when the merge reaches that
 * first timestamp and closed as soon as it ends. Rotated captures (tcpdump -G,
 * -C) therefore hold one or two files open at a time, however many the
 * directory has; only captures that overlap in time are open together.
 */
import { lstatSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AnomalyCounters, anomalyDefinitions } from '../shared/anomalies.js';
import { TlsentryError } from '../shared/errors.js';
import { A_INPUT_UNREADABLE } from './anomalies.js';
import type { BaseReader, CaptureSet, SkippedInput } from './base-reader.js';
import { openCapture } from './open.js';
import { NEXT_END, NEXT_NEED_DATA, NEXT_PACKET, PacketRecord, type NextResult } from './types.js';

/** Read size of each input of a merge (several buffers live at once). */
const MERGE_CHUNK = 1024 * 1024;
/** Read size while probing an input for its first packet. */
const PROBE_CHUNK = 64 * 1024;

interface Input {
  readonly path: string;
  /** Found by walking a directory: problems skip it instead of failing the run. */
  readonly fromDirectory: boolean;
}

interface Entry {
  readonly path: string;
  readonly fromDirectory: boolean;
  /** Open reader, or null while not yet (re)opened. Ended entries leave the heap. */
  reader: BaseReader | null;
  /** Head packet of this input (only its timestamp while the reader is closed). */
  readonly rec: PacketRecord;
}

export class MergedReader implements CaptureSet {
  readonly format = 'merged' as const;
  readonly name: string;
  readonly inputs: readonly string[];
  readonly skipped: SkippedInput[];
  private readonly entries: Entry[];
  /** Min-heap of entry indices by (rec.tsMicros, index). */
  private readonly heap: number[] = [];
  /** Entry whose packet was handed out last and must be advanced before the next. */
  private advance = -1;
  /** Entry whose reader needs `fill()`, or -1. */
  private starving = -1;
  /** The heap top is an input not open yet: `fill()` opens it. */
  private mustOpen = false;
  private finishedBytes = 0;
  private readonly knownTotal: number;
  private closed = false;

  /** @internal use `openCaptures` */
  constructor(
    name: string,
    inputs: string[],
    entries: Entry[],
    skipped: SkippedInput[],
    totalBytes: number,
    finishedBytes: number,
    private readonly counters: AnomalyCounters,
  ) {
    this.name = name;
    this.inputs = inputs;
    this.entries = entries;
    this.skipped = skipped;
    this.knownTotal = totalBytes;
    this.finishedBytes = finishedBytes;
    for (let i = 0; i < entries.length; i++) if (entries[i].reader !== null || entries[i].rec.caplen >= 0) this.push(i);
  }

  get bytesRead(): number {
    let n = this.finishedBytes;
    for (const e of this.entries) if (e.reader) n += e.reader.bytesRead;
    return n;
  }

  get totalBytes(): number {
    return this.knownTotal;
  }

  next(pkt: PacketRecord): NextResult {
    if (this.closed) return NEXT_END;
    const i = this.advance;
    if (i >= 0) {
      const e = this.entries[i];
      const r = (e.reader as BaseReader).next(e.rec);
      if (r === NEXT_NEED_DATA) {
        this.starving = i;
        return NEXT_NEED_DATA;
      }
      this.advance = -1;
      if (r === NEXT_END) this.retireTop();
      else this.siftDown(0);
    }
    const heap = this.heap;
    if (heap.length === 0) return NEXT_END;
    const top = heap[0];
    const e = this.entries[top];
    if (e.reader === null) {
      this.mustOpen = true;
      return NEXT_NEED_DATA;
    }
    const rec = e.rec;
    pkt.linkType = rec.linkType;
    pkt.tsMicros = rec.tsMicros;
    pkt.data = rec.data;
    pkt.offset = rec.offset;
    pkt.caplen = rec.caplen;
    pkt.wirelen = rec.wirelen;
    pkt.input = top;
    this.advance = top;
    return NEXT_PACKET;
  }

  async fill(): Promise<void> {
    if (this.closed) return;
    if (this.mustOpen) {
      this.mustOpen = false;
      const top = this.heap[0];
      const e = this.entries[top];
      try {
        e.reader = await openCapture(e.path, this.counters, { chunkSize: MERGE_CHUNK, input: top });
        const r = await firstPacket(e.reader, e.rec);
        if (r === NEXT_END) this.retireTop();
        else this.siftDown(0);
      } catch (err) {
        // The file changed or vanished since it was probed.
        this.counters.inc(A_INPUT_UNREADABLE);
        this.skipped.push({ path: e.path, reason: (err as Error).message });
        this.retireTop();
      }
      return;
    }
    const i = this.starving;
    if (i >= 0) {
      this.starving = -1;
      const reader = this.entries[i].reader;
      if (reader) await reader.fill();
    }
  }

  close(): void {
    this.closed = true;
    for (const e of this.entries) {
      if (e.reader) {
        this.finishedBytes += e.reader.bytesRead;
        e.reader.close();
        e.reader = null;
      }
    }
    this.heap.length = 0;
  }

  /** Drop the heap top (its input ended or failed). */
  private retireTop(): void {
    const heap = this.heap;
    const e = this.entries[heap[0]];
    if (e.reader) {
      this.finishedBytes += e.reader.bytesRead;
      e.reader.close();
      e.reader = null;
    }
    const last = heap.pop() as number;
    if (heap.length > 0) {
      heap[0] = last;
      this.siftDown(0);
    }
  }

  private less(a: number, b: number): boolean {
    const ta = this.entries[a].rec.tsMicros;
    const tb = this.entries[b].rec.tsMicros;
    return ta < tb || (ta === tb && a < b);
  }

  private push(i: number): void {
    const heap = this.heap;
    let k = heap.length;
    heap.push(i);
    while (k > 0) {
      const parent = (k - 1) >> 1;
      if (!this.less(heap[k], heap[parent])) break;
      const t = heap[k];
      heap[k] = heap[parent];
      heap[parent] = t;
      k = parent;
    }
  }

  private siftDown(k: number): void {
    const heap = this.heap;
    const n = heap.length;
    for (;;) {
      const l = 2 * k + 1;
      if (l >= n) return;
      const r = l + 1;
      const m = r < n && this.less(heap[r], heap[l]) ? r : l;
      if (!this.less(heap[m], heap[k])) return;
      const t = heap[k];
      heap[k] = heap[m];
      heap[m] = t;
      k = m;
    }
  }
}

/** Advance a freshly opened reader to its first packet. */
async function firstPacket(reader: BaseReader, rec: PacketRecord): Promise<NextResult> {
  for (;;) {
    const r = reader.next(rec);
    if (r !== NEXT_NEED_DATA) return r;
    await reader.fill();
  }
}

/**
 * Open several captures and/or directories as one reader in time order.
 * A directory contributes every regular file below it, recursively, sorted by
 * name; files there that are not captures (or cannot be read) are skipped,
 * counted (`capture.input.not_a_capture`, `capture.input.unreadable`) and
 * listed in `skipped`. Paths named explicitly must be captures: problems with
 * them throw `TlsentryError`. `PacketRecord.input` is the index into `inputs`.
 * A single file gives the plain reader.
 */
export async function openCaptures(paths: string[], counters: AnomalyCounters): Promise<CaptureSet> {
  if (paths.filter((p) => p === '-').length > 1) throw new TlsentryError('ERR_USAGE', "standard input ('-') can be read only once");
  const skipped: SkippedInput[] = [];
  const list: Input[] = [];
  for (const p of paths) expand(p, list, skipped, counters);

  if (list.length === 1) {
    const only = list[0];
    let reader: BaseReader;
    try {
      reader = await openCapture(only.path, counters);
    } catch (err) {
      if (!only.fromDirectory) throw err;
      skipInput(only.path, err, skipped, counters);
      return new MergedReader(paths.join(','), [], [], skipped, 0, 0, counters);
    }
    reader.skipped.push(...skipped);
    return reader;
  }

  const entries: Entry[] = [];
  const inputs: string[] = [];
  let total = 0;
  let finished = 0;
  try {
    for (const input of list) {
      const index = entries.length;
      const rec = new PacketRecord();
      const entry: Entry = { path: input.path, fromDirectory: input.fromDirectory, reader: null, rec };
      // Standard input cannot be reopened: it stays open from the probe on.
      const live = input.path === '-';
      const probeCounters = live ? counters : new AnomalyCounters();
      let reader: BaseReader;
      try {
        reader = await openCapture(input.path, probeCounters, { chunkSize: live ? MERGE_CHUNK : PROBE_CHUNK, input: index });
      } catch (err) {
        if (!input.fromDirectory) throw err;
        skipInput(input.path, err, skipped, counters);
        continue;
      }
      if (total >= 0) total = reader.totalBytes < 0 ? -1 : total + reader.totalBytes;
      let r: NextResult;
      try {
        r = await firstPacket(reader, rec);
      } catch (err) {
        reader.close();
        if (!input.fromDirectory) throw err;
        skipInput(input.path, err, skipped, counters);
        continue;
      }
      entries.push(entry);
      inputs.push(input.path);
      if (r === NEXT_END) {
        // No packet at all: done with it now, and its anomalies count.
        if (probeCounters !== counters) addCounters(counters, probeCounters);
        finished += reader.bytesRead;
        reader.close();
        rec.caplen = -1; // marks "not in the merge"
      } else if (live) {
        entry.reader = reader;
      } else {
        // Keep only the first timestamp; the anomalies are counted again on reopening.
        reader.close();
        rec.data = Buffer.alloc(0);
      }
    }
  } catch (err) {
    for (const e of entries) e.reader?.close();
    throw err;
  }
  if (entries.length === 1 && entries[0].reader === null && entries[0].rec.caplen >= 0) {
    // One capture left after skipping the rest of a directory: no merge needed.
    const reader = await openCapture(entries[0].path, counters);
    reader.skipped.push(...skipped);
    return reader;
  }
  return new MergedReader(paths.join(','), inputs, entries, skipped, total, finished, counters);
}

function addCounters(into: AnomalyCounters, from: AnomalyCounters): void {
  for (const d of anomalyDefinitions()) {
    const c = from.counts[d.id];
    if (c !== 0) into.inc(d.id, c);
  }
}

function skipInput(path: string, err: unknown, skipped: SkippedInput[], counters: AnomalyCounters): void {
  // A README or an expected-events file beside the captures is normal: it is
  // listed in `skipped` (the summary names it), not counted as an anomaly.
  const notCapture = err instanceof TlsentryError && err.code === 'ERR_CAPTURE_FORMAT';
  if (!notCapture) counters.inc(A_INPUT_UNREADABLE);
  skipped.push({ path, reason: err instanceof Error ? err.message : String(err) });
}

/** Add `path` (a file, '-', or a directory walked recursively) to `out`. */
function expand(path: string, out: Input[], skipped: SkippedInput[], counters: AnomalyCounters): void {
  if (path === '-') {
    out.push({ path, fromDirectory: false });
    return;
  }
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new TlsentryError('ERR_CAPTURE_OPEN', `cannot open ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (st.isDirectory()) walk(path, out, skipped, counters);
  else out.push({ path, fromDirectory: false });
}

function walk(dir: string, out: Input[], skipped: SkippedInput[], counters: AnomalyCounters): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    counters.inc(A_INPUT_UNREADABLE);
    skipped.push({ path: dir, reason: (err as Error).message });
    return;
  }
  names.sort();
  for (const name of names) {
    const p = join(dir, name);
    let st;
    try {
      st = lstatSync(p);
      // Symbolic links are followed to regular files only (never to directories: no cycles).
      if (st.isSymbolicLink()) {
        st = statSync(p);
        if (!st.isFile()) continue;
      }
    } catch (err) {
      counters.inc(A_INPUT_UNREADABLE);
      skipped.push({ path: p, reason: (err as Error).message });
      continue;
    }
    if (st.isDirectory()) walk(p, out, skipped, counters);
    else if (st.isFile()) out.push({ path: p, fromDirectory: true });
  }
}
