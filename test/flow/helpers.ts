import { PacketView, TCP_ACK, TCP_FIN, TCP_SYN } from '../../src/decode/packet-view.js';
import type { Direction, StreamParser } from '../../src/flow/index.js';

export const CLIENT = { ip: 0x0a000001, port: 50000 };
export const SERVER = { ip: 0x0a000002, port: 443 };

/** A decoded TCP packet, as decode would fill it. */
export function tcpView(opts: {
  ts: number;
  fromClient: boolean;
  seq: number;
  ack?: number;
  flags: number;
  payload?: Buffer;
  wireLen?: number;
  client?: { ip: number; port: number };
  server?: { ip: number; port: number };
}): PacketView {
  const v = new PacketView();
  const c = opts.client ?? CLIENT, s = opts.server ?? SERVER;
  const a = opts.fromClient ? c : s, b = opts.fromClient ? s : c;
  v.tsMicros = opts.ts;
  v.ipVersion = 4;
  v.src0 = a.ip;
  v.dst0 = b.ip;
  v.srcPort = a.port;
  v.dstPort = b.port;
  v.protocol = 6;
  v.seq = opts.seq >>> 0;
  v.ack = (opts.ack ?? 0) >>> 0;
  v.tcpFlags = opts.flags;
  v.window = 65535;
  const p = opts.payload ?? Buffer.alloc(0);
  v.payload = p;
  v.payloadOffset = 0;
  v.payloadLength = p.length;
  v.payloadWireLength = opts.wireLen ?? p.length;
  v.ipBytes = 40 + (opts.wireLen ?? p.length);
  return v;
}

/**
 * A parser of length-prefixed records (u16 length, u8 kind, body): kind 0
 * bodies are delivered, kind 1 bodies are skipped via the "consumed > given"
 * contract. It exercises consumed/needed/skip the way the TLS parser does.
 */
export class RecordParser implements StreamParser {
  readonly records: [string[], string[]] = [[], []];
  readonly gaps: [number[], number[]] = [[], []];
  private need: [number, number] = [3, 3];

  onData(dir: Direction, buf: Buffer, start: number, end: number): number {
    let p = start;
    while (end - p >= 3) {
      const len = buf.readUInt16BE(p);
      const kind = buf[p + 2];
      if (kind === 1) {
        this.records[dir].push(`skip:${len}`);
        p += 3 + len;
        this.need[dir] = 3;
        if (p > end) return p - start; // skip the rest of the body
        continue;
      }
      if (end - p < 3 + len) {
        this.need[dir] = 3 + len;
        return p - start;
      }
      this.records[dir].push(buf.toString('hex', p + 3, p + 3 + len));
      p += 3 + len;
      this.need[dir] = 3;
    }
    return p - start;
  }
  needed(dir: Direction): number {
    return this.need[dir];
  }
  onGap(dir: Direction, length: number): void {
    this.gaps[dir].push(length);
  }
  wantsData(): boolean {
    return true;
  }
}

/** A parser that records every byte it is given. */
export class ByteSink implements StreamParser {
  readonly chunks: [Buffer[], Buffer[]] = [[], []];
  readonly gaps: [number[], number[]] = [[], []];
  onData(dir: Direction, buf: Buffer, start: number, end: number): number {
    this.chunks[dir].push(Buffer.from(buf.subarray(start, end)));
    return end - start;
  }
  needed(): number {
    return 1;
  }
  onGap(dir: Direction, length: number): void {
    this.gaps[dir].push(length);
  }
  wantsData(): boolean {
    return true;
  }
  stream(dir: Direction): Buffer {
    return Buffer.concat(this.chunks[dir]);
  }
}

export const F = { SYN: TCP_SYN, ACK: TCP_ACK, FIN: TCP_FIN, SA: TCP_SYN | TCP_ACK, FA: TCP_FIN | TCP_ACK, PA: 0x18 };

/** Encode records for RecordParser. */
export function encodeRecords(recs: { kind: 0 | 1; body: Buffer }[]): Buffer {
  return Buffer.concat(recs.map((r) => Buffer.concat([Buffer.from([r.body.length >> 8, r.body.length & 255, r.kind]), r.body])));
}
