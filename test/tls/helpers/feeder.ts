/**
 * A minimal stand-in for TCP reassembly's side of the StreamParser contract:
 * keeps what the parser did not consume, calls again once `needed(dir)` bytes
 * are buffered, and skips what the parser asked to skip. Strict: it fails the
 * test when the parser breaks the contract (returns fewer bytes while needing
 * no more, or a negative count).
 */
import assert from 'node:assert/strict';

import type { Direction, StreamParser } from '../../../src/flow/stream-parser.js';

const EMPTY = Buffer.alloc(0);

export class DirectionFeeder {
  private held: Buffer = EMPTY;
  private skip = 0;
  /** Bytes handed over in calls, for statistics. */
  delivered = 0;
  calls = 0;

  constructor(
    private readonly parser: StreamParser,
    private readonly dir: Direction,
    /** Deliver at a random offset inside a larger buffer (catches offset bugs). */
    private readonly pad = false,
  ) {}

  push(data: Buffer): void {
    if (this.skip > 0) {
      const n = Math.min(this.skip, data.length);
      this.skip -= n;
      data = data.subarray(n);
    }
    if (data.length === 0) return;
    this.held = this.held.length === 0 ? data : Buffer.concat([this.held, data]);
    this.drain();
  }

  /** A hole of `len` bytes. Held bytes are dropped with it; a pending skip absorbs it first. */
  gap(len: number): void {
    if (this.skip >= len) {
      this.skip -= len;
      return;
    }
    len -= this.skip;
    this.skip = 0;
    const lost = len + this.held.length;
    this.held = EMPTY;
    if (this.parser.wantsData()) this.parser.onGap(this.dir, lost);
  }

  private drain(): void {
    for (;;) {
      if (this.held.length === 0) return;
      if (!this.parser.wantsData()) {
        this.held = EMPTY;
        return;
      }
      const need = this.parser.needed(this.dir);
      assert.ok(Number.isInteger(need) && need >= 1, `needed(${this.dir}) = ${need}`);
      if (this.held.length < need) return;
      let buf = this.held;
      let start = 0;
      if (this.pad) {
        const before = 1 + (this.calls % 7);
        buf = Buffer.concat([Buffer.alloc(before, 0xee), this.held, Buffer.alloc(3, 0xee)]);
        start = before;
      }
      const end = start + this.held.length;
      this.calls++;
      const n = this.parser.onData(this.dir, buf, start, end);
      assert.ok(Number.isInteger(n) && n >= 0, `onData returned ${n}`);
      this.delivered += Math.min(n, this.held.length);
      if (n >= this.held.length) {
        this.skip = n - this.held.length;
        this.held = EMPTY;
        return;
      }
      this.held = this.held.subarray(n);
      const again = this.parser.needed(this.dir);
      assert.ok(
        again > this.held.length,
        `contract: consumed ${n}, holding ${this.held.length}, but needed(${this.dir}) = ${again}`,
      );
      return;
    }
  }
}

/** Feed a whole conversation: `[dir, bytes]` chunks in order. */
export function feedConversation(
  parser: StreamParser,
  chunks: readonly (readonly [Direction, Buffer])[],
  pad = false,
): void {
  const feeders = [new DirectionFeeder(parser, 0, pad), new DirectionFeeder(parser, 1, pad)];
  for (const [dir, data] of chunks) feeders[dir].push(data);
}

/** Split `data` at the given cut points (sorted, within range). */
export function splitAt(data: Buffer, cuts: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    if (c <= prev || c >= data.length) continue;
    out.push(data.subarray(prev, c));
    prev = c;
  }
  out.push(data.subarray(prev));
  return out;
}
