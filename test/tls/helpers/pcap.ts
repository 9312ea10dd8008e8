/**
 * Test-only capture reader and TCP stream reassembly, small and strict
 * enough to drive TlsParser over the conformance captures at unit level.
 * (The real capture/decode/flow stages are other folders' work; this stays
 * here so the TLS tests do not depend on them.)
 *
 * Reads pcap (µs/ns, either byte order) and pcapng; link types NULL, LOOP,
 * Ethernet (+VLAN), RAW, IPv4/IPv6, SLL, SLL2; IPv4/IPv6 (no fragments) and
 * TCP. Reassembly: per direction, in sequence order, duplicates trimmed,
 * holes reported through the feeder's gap() when the flow ends or when
 * later data is 64 KiB ahead.
 */
import { readFileSync } from 'node:fs';

import type { StreamParser } from '../../../src/flow/stream-parser.js';
import { DirectionFeeder } from './feeder.js';

export interface RawPacket {
  linkType: number;
  data: Buffer;
}

export function readCapture(path: string): RawPacket[] {
  const f = readFileSync(path);
  const magic = f.readUInt32LE(0);
  if (magic === 0x0a0d0d0a) return readPcapng(f);
  return readPcap(f);
}

function readPcap(f: Buffer): RawPacket[] {
  const m = f.readUInt32LE(0);
  let le: boolean;
  if (m === 0xa1b2c3d4 || m === 0xa1b23c4d) le = true;
  else if (m === 0xd4c3b2a1 || m === 0x4d3cb2a1) le = false;
  else throw new Error('not a pcap file');
  const r32 = (o: number) => (le ? f.readUInt32LE(o) : f.readUInt32BE(o));
  const linkType = r32(20) & 0xffff;
  const out: RawPacket[] = [];
  for (let p = 24; p + 16 <= f.length; ) {
    const incl = r32(p + 8);
    const data = f.subarray(p + 16, Math.min(f.length, p + 16 + incl));
    out.push({ linkType, data });
    p += 16 + incl;
  }
  return out;
}

function readPcapng(f: Buffer): RawPacket[] {
  const out: RawPacket[] = [];
  let le = true;
  const ifaces: number[] = [];
  let p = 0;
  while (p + 12 <= f.length) {
    const typeLE = f.readUInt32LE(p);
    if (typeLE === 0x0a0d0d0a) {
      le = f.readUInt32LE(p + 8) === 0x1a2b3c4d;
      ifaces.length = 0;
    }
    const r32 = (o: number) => (le ? f.readUInt32LE(o) : f.readUInt32BE(o));
    const r16 = (o: number) => (le ? f.readUInt16LE(o) : f.readUInt16BE(o));
    const type = r32(p);
    const len = r32(p + 4);
    if (len < 12) break;
    if (type === 1) ifaces.push(r16(p + 8));
    else if (type === 6) {
      const iface = r32(p + 8);
      const cap = r32(p + 20);
      out.push({ linkType: ifaces[iface] ?? 1, data: f.subarray(p + 28, p + 28 + cap) });
    } else if (type === 3) {
      const cap = Math.min(r32(p + 8), len - 16);
      out.push({ linkType: ifaces[0] ?? 1, data: f.subarray(p + 12, p + 12 + cap) });
    }
    p += len;
  }
  return out;
}

export interface TcpSegment {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  flags: number;
  payload: Buffer;
}

/** Decode one frame down to TCP; null for anything else. */
export function decodeTcp(pkt: RawPacket): TcpSegment | null {
  const d = pkt.data;
  let p = 0;
  let ethertype = -1;
  switch (pkt.linkType) {
    case 0: { // NULL: host-order family
      const fam = d.readUInt32LE(0) > 0xffff ? d.readUInt32BE(0) : d.readUInt32LE(0);
      ethertype = fam === 2 ? 0x0800 : 0x86dd;
      p = 4;
      break;
    }
    case 108: {
      ethertype = d.readUInt32BE(0) === 2 ? 0x0800 : 0x86dd;
      p = 4;
      break;
    }
    case 1: {
      if (d.length < 14) return null;
      ethertype = d.readUInt16BE(12);
      p = 14;
      while ((ethertype === 0x8100 || ethertype === 0x88a8) && p + 4 <= d.length) {
        ethertype = d.readUInt16BE(p + 2);
        p += 4;
      }
      break;
    }
    case 101: case 12: case 14: case 228: case 229:
      ethertype = (d[0] >> 4) === 4 ? 0x0800 : 0x86dd;
      break;
    case 113:
      ethertype = d.readUInt16BE(14);
      p = 16;
      break;
    case 276:
      ethertype = d.readUInt16BE(0);
      p = 20;
      break;
    default:
      return null;
  }
  let proto: number;
  let src: string;
  let dst: string;
  let l4: number;
  let l4end: number;
  if (ethertype === 0x0800) {
    if (p + 20 > d.length) return null;
    const ihl = (d[p] & 0x0f) * 4;
    const total = d.readUInt16BE(p + 2);
    const frag = d.readUInt16BE(p + 6);
    if ((frag & 0x1fff) !== 0 || (frag & 0x2000) !== 0) return null;
    proto = d[p + 9];
    src = `${d[p + 12]}.${d[p + 13]}.${d[p + 14]}.${d[p + 15]}`;
    dst = `${d[p + 16]}.${d[p + 17]}.${d[p + 18]}.${d[p + 19]}`;
    l4 = p + ihl;
    l4end = Math.min(d.length, p + (total || d.length - p));
  } else if (ethertype === 0x86dd) {
    if (p + 40 > d.length) return null;
    proto = d[p + 6];
    src = d.subarray(p + 8, p + 24).toString('hex');
    dst = d.subarray(p + 24, p + 40).toString('hex');
    l4end = Math.min(d.length, p + 40 + d.readUInt16BE(p + 4));
    l4 = p + 40;
    while (proto === 0 || proto === 43 || proto === 60 || proto === 44) {
      if (proto === 44) return null;
      proto = d[l4];
      l4 += (d[l4 + 1] + 1) * 8;
    }
  } else return null;
  if (proto !== 6 || l4 + 20 > l4end) return null;
  const off = (d[l4 + 12] >> 4) * 4;
  return {
    src,
    dst,
    sport: d.readUInt16BE(l4),
    dport: d.readUInt16BE(l4 + 2),
    seq: d.readUInt32BE(l4 + 4),
    flags: d[l4 + 13],
    payload: d.subarray(l4 + off, l4end),
  };
}

const FIN = 0x01, SYN = 0x02, RST = 0x04, ACK = 0x10;

class DirState {
  next = -1; // next expected sequence number (relative arithmetic mod 2^32)
  ooo: { seq: number; data: Buffer }[] = [];
  constructor(readonly feeder: DirectionFeeder) {}
}

export interface CapturedFlow<P extends StreamParser> {
  client: string;
  server: string;
  clientPort: number;
  serverPort: number;
  parser: P;
}

const seqDiff = (a: number, b: number) => ((a - b) | 0);

/**
 * Run every TCP flow of `path` through parsers from `make`. Returns the flows
 * in order of their first packet (a flow that had no parser is left out).
 */
export function runCapture<P extends StreamParser>(
  path: string,
  make: (clientPort: number, serverPort: number) => P,
): CapturedFlow<P>[] {
  interface Flow {
    out: CapturedFlow<P>;
    dirs: [DirState, DirState];
    closed: boolean;
  }
  const flows = new Map<string, Flow>();
  const result: CapturedFlow<P>[] = [];
  const flush = (st: DirState, all: boolean) => {
    st.ooo.sort((x, y) => seqDiff(x.seq, y.seq));
    while (st.ooo.length > 0) {
      const seg = st.ooo[0];
      if (st.next === -1) st.next = seg.seq;
      const d = seqDiff(seg.seq, st.next);
      if (d > 0) {
        if (!all && d < 65536) return;
        st.feeder.gap(d);
        st.next = seg.seq;
        continue;
      }
      st.ooo.shift();
      const end = (seg.seq + seg.data.length) >>> 0;
      if (seqDiff(end, st.next) <= 0) continue; // duplicate
      st.feeder.push(seg.data.subarray(-d));
      st.next = end;
    }
  };
  for (const pkt of readCapture(path)) {
    const t = decodeTcp(pkt);
    if (t === null) continue;
    const a = `${t.src}:${t.sport}`;
    const b = `${t.dst}:${t.dport}`;
    const key = a < b ? `${a}|${b}` : `${b}|${a}`;
    let flow = flows.get(key);
    const isSyn = (t.flags & SYN) !== 0 && (t.flags & ACK) === 0;
    if (flow !== undefined && flow.closed && isSyn) {
      for (const st of flow.dirs) flush(st, true);
      flow = undefined;
    }
    if (flow === undefined) {
      // Client: the SYN's sender; else the SYN-ACK's receiver; else the higher port.
      let clientIsSrc: boolean;
      if ((t.flags & SYN) !== 0) clientIsSrc = (t.flags & ACK) === 0;
      else clientIsSrc = t.sport > t.dport || (t.sport === t.dport && a < b);
      const client = clientIsSrc ? a : b;
      const server = clientIsSrc ? b : a;
      const parser = make(clientIsSrc ? t.sport : t.dport, clientIsSrc ? t.dport : t.sport);
      const out: CapturedFlow<P> = {
        client,
        server,
        clientPort: clientIsSrc ? t.sport : t.dport,
        serverPort: clientIsSrc ? t.dport : t.sport,
        parser,
      };
      flow = {
        out,
        dirs: [new DirState(new DirectionFeeder(parser, 0)), new DirState(new DirectionFeeder(parser, 1))],
        closed: false,
      };
      flows.set(key, flow);
      result.push(out);
    }
    const dir = a === flow.out.client ? 0 : 1;
    const st = flow.dirs[dir];
    if ((t.flags & SYN) !== 0) st.next = (t.seq + 1) >>> 0;
    if ((t.flags & (FIN | RST)) !== 0) flow.closed = true;
    if (t.payload.length > 0) {
      const seq = (t.flags & SYN) !== 0 ? (t.seq + 1) >>> 0 : t.seq;
      st.ooo.push({ seq, data: t.payload });
      flush(st, false);
    }
  }
  for (const flow of flows.values()) for (const st of flow.dirs) flush(st, true);
  return result;
}
