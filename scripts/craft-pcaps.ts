/**
 * Deterministic generator of small classic-pcap files, one per link type and
 * layer the decoder knows, each frame with the facts the decoder must find.
 *
 *   npx tsx scripts/craft-pcaps.ts OUTDIR
 *
 * Tests import `craftCaptures()` to get the same frames with their expected
 * decode; the files are for tshark cross-checks and for people. Nothing here
 * is random: the same bytes every run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

// Result codes, as in src/decode/results.ts (kept literal so this script needs nothing from src/).
export const R_FAILED = 0;
export const R_TCP = 1;
export const R_OTHER_IP = 2;
export const R_NOT_IP = 3;
export const R_HELD = 4;

/** What decoding a frame must give. Absent fields are not checked. */
export interface Expect {
  result: number;
  ipVersion?: number;
  src?: string;
  dst?: string;
  protocol?: number;
  ttl?: number;
  ipBytes?: number;
  vlanDepth?: number;
  vlanId?: number;
  srcPort?: number;
  dstPort?: number;
  seq?: number;
  ack?: number;
  tcpFlags?: number;
  window?: number;
  mss?: number;
  windowScale?: number;
  sackPermitted?: boolean;
  tsVal?: number;
  tsEcr?: number;
  payloadLength?: number;
  payloadWireLength?: number;
  /** The payload bytes (hex), when checked. */
  payloadHex?: string;
  /** Anomalies this frame counts (name → count); when absent, none. */
  anomalies?: Record<string, number>;
  /** Tunnel stats this frame increments. */
  tunnels?: string[];
}

export interface CraftedFrame {
  note: string;
  data: Buffer;
  /** Bytes on the wire when the snap length cut the frame (default: data.length). */
  wirelen?: number;
  expect: Expect;
}

export interface CraftedCapture {
  /** File name (`*.pcap`). */
  name: string;
  linkType: number;
  frames: CraftedFrame[];
  /** Frames tshark decodes differently on purpose (index → why); skipped in cross-checks. */
  tsharkSkip?: Record<number, string>;
}

// ---------------------------------------------------------------------------
// Byte builders

const cat = (...parts: (Buffer | number[])[]): Buffer => Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));
const be16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
};
const be32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const le32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};

export function ip4(s: string): Buffer {
  return Buffer.from(s.split('.').map((x) => Number(x)));
}

export function ip6(s: string): Buffer {
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

/** Deterministic filler bytes. */
export function filler(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

function checksum(...parts: Buffer[]): number {
  let sum = 0;
  for (const p of parts) {
    for (let i = 0; i + 1 < p.length; i += 2) sum += p.readUInt16BE(i);
    if (p.length & 1) sum += p[p.length - 1] << 8;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Fills the TCP/UDP/ICMPv6 checksum of `seg` (proto 6/17/58) for the given addresses. */
function l4Checksum(src: Buffer, dst: Buffer, proto: number, seg: Buffer): Buffer {
  const at = proto === 6 ? 16 : proto === 17 ? 6 : proto === 58 ? 2 : -1;
  if (at < 0) return seg;
  seg.writeUInt16BE(0, at);
  const pseudo =
    src.length === 4
      ? cat(src, dst, [0, proto], be16(seg.length))
      : cat(src, dst, be32(seg.length), [0, 0, 0, proto]);
  let c = checksum(pseudo, seg);
  if (proto === 17 && c === 0) c = 0xffff;
  seg.writeUInt16BE(c, at);
  return seg;
}

export const FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;

export interface TcpSpec {
  sport: number;
  dport: number;
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  options?: Buffer;
  payload?: Buffer;
  /** Override the data offset nibble (words). */
  dataOffset?: number;
}

export function tcp(t: TcpSpec): Buffer {
  const opts = t.options ?? Buffer.alloc(0);
  if (opts.length % 4 !== 0) throw new Error('tcp options must be padded to 4 bytes');
  const h = Buffer.alloc(20);
  h.writeUInt16BE(t.sport, 0);
  h.writeUInt16BE(t.dport, 2);
  h.writeUInt32BE(t.seq >>> 0, 4);
  h.writeUInt32BE((t.ack ?? 0) >>> 0, 8);
  h[12] = (t.dataOffset ?? (20 + opts.length) / 4) << 4;
  h[13] = t.flags;
  h.writeUInt16BE(t.window ?? 64240, 14);
  return cat(h, opts, t.payload ?? Buffer.alloc(0));
}

export function udp(sport: number, dport: number, payload: Buffer): Buffer {
  return cat(be16(sport), be16(dport), be16(8 + payload.length), be16(0), payload);
}

export const opt = {
  mss: (v: number) => cat([2, 4], be16(v)),
  ws: (v: number) => Buffer.from([3, 3, v]),
  sackPerm: () => Buffer.from([4, 2]),
  sack: (...edges: number[]) => cat([5, 2 + edges.length * 4], ...edges.map(be32)),
  ts: (val: number, ecr: number) => cat([8, 10], be32(val), be32(ecr)),
  nop: () => Buffer.from([1]),
  eol: () => Buffer.from([0]),
};

/** Concatenates options and pads with EOL to a multiple of 4. */
export function tcpOptions(...o: Buffer[]): Buffer {
  const b = cat(...o);
  return cat(b, Buffer.alloc((4 - (b.length % 4)) % 4));
}

export interface Ip4Spec {
  src: string;
  dst: string;
  proto: number;
  payload: Buffer;
  ttl?: number;
  id?: number;
  df?: boolean;
  mf?: boolean;
  /** Fragment offset in bytes (multiple of 8). */
  fragOffset?: number;
  options?: Buffer;
  /** Override the total length field. */
  totalLength?: number;
  /** Compute the L4 checksum (default true; false for fragments already summed). */
  l4sum?: boolean;
}

export function ipv4(s: Ip4Spec): Buffer {
  const opts = s.options ?? Buffer.alloc(0);
  if (opts.length % 4 !== 0) throw new Error('ipv4 options must be padded to 4 bytes');
  const src = ip4(s.src);
  const dst = ip4(s.dst);
  const payload = s.l4sum === false ? s.payload : l4Checksum(src, dst, s.proto, Buffer.from(s.payload));
  const h = Buffer.alloc(20);
  h[0] = 0x40 | ((20 + opts.length) / 4);
  h.writeUInt16BE(s.totalLength ?? 20 + opts.length + payload.length, 2);
  h.writeUInt16BE(s.id ?? 0x1234, 4);
  h.writeUInt16BE((s.df ? 0x4000 : 0) | (s.mf ? 0x2000 : 0) | ((s.fragOffset ?? 0) >> 3), 6);
  h[8] = s.ttl ?? 64;
  h[9] = s.proto;
  src.copy(h, 12);
  dst.copy(h, 16);
  const hdr = cat(h, opts);
  hdr.writeUInt16BE(checksum(hdr), 10);
  return cat(hdr, payload);
}

/** An IPv6 extension header: next header, then `body` padded to 8n - 2 bytes (not AH). */
export interface Ext {
  type: number;
  body: Buffer;
}

export const ext = {
  hopByHop: (padTo = 6): Ext => ({ type: 0, body: padN(padTo) }),
  destOpts: (padTo = 6): Ext => ({ type: 60, body: padN(padTo) }),
  /** Segment Routing header (type 4) with segments left 0 and one segment. */
  routing: (seg: string): Ext => ({ type: 43, body: cat([4, 0, 0, 0, 0, 0], ip6(seg)) }),
  /** AH: body = reserved (2) SPI (4) seq (4) ICV (12). */
  ah: (): Ext => ({ type: 51, body: cat([0, 0], be32(0x1000), be32(1), Buffer.alloc(12, 0xab)) }),
  fragment: (offset: number, more: boolean, id: number): Ext => ({
    type: 44,
    body: cat(be16(offset | (more ? 1 : 0)), be32(id)),
  }),
};

function padN(n: number): Buffer {
  // PadN option filling n bytes (n >= 2).
  return cat([1, n - 2], Buffer.alloc(n - 2));
}

function extChain(chain: Ext[], finalNext: number): Buffer {
  const out: Buffer[] = [];
  chain.forEach((e, i) => {
    const next = i + 1 < chain.length ? chain[i + 1].type : finalNext;
    if (e.type === 51) {
      const total = 2 + e.body.length;
      out.push(cat([next, total / 4 - 2], e.body));
    } else if (e.type === 44) {
      out.push(cat([next, 0], e.body));
    } else {
      const total = 2 + e.body.length;
      if (total % 8 !== 0) throw new Error('extension header not a multiple of 8');
      out.push(cat([next, total / 8 - 1], e.body));
    }
  });
  return cat(...out);
}

export interface Ip6Spec {
  src: string;
  dst: string;
  proto: number;
  payload: Buffer;
  hopLimit?: number;
  ext?: Ext[];
  payloadLength?: number;
  l4sum?: boolean;
}

export function ipv6(s: Ip6Spec): Buffer {
  const src = ip6(s.src);
  const dst = ip6(s.dst);
  const chain = s.ext ?? [];
  const first = chain.length ? chain[0].type : s.proto;
  const payload = s.l4sum === false ? s.payload : l4Checksum(src, dst, s.proto, Buffer.from(s.payload));
  const rest = cat(extChain(chain, s.proto), payload);
  const h = Buffer.alloc(8);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(s.payloadLength ?? rest.length, 4);
  h[6] = first;
  h[7] = s.hopLimit ?? 64;
  return cat(h, src, dst, rest);
}

const MAC_A = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0a];
const MAC_B = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0b];

/** Ethernet II frame, padded to the 60-byte minimum (FCS not captured). */
export function ether(type: number, payload: Buffer, tags: [number, number][] = []): Buffer {
  const t = tags.map(([tpid, vid]) => cat(be16(tpid), be16(vid)));
  const f = cat(MAC_B, MAC_A, ...t, be16(type), payload);
  return f.length < 60 ? cat(f, Buffer.alloc(60 - f.length)) : f;
}

export function sll(proto: number, payload: Buffer, pktType = 0, hatype = 1): Buffer {
  return cat(be16(pktType), be16(hatype), be16(6), MAC_A, [0, 0], be16(proto), payload);
}

export function sll2(proto: number, payload: Buffer, pktType = 0, hatype = 1, ifindex = 2): Buffer {
  return cat(be16(proto), be16(0), be32(ifindex), be16(hatype), [pktType, 6], MAC_A, [0, 0], payload);
}

/** Splits an L4 segment into IPv4 fragments: `sizes` are the lengths of all but the last (multiples of 8). */
function fragments4(base: Omit<Ip4Spec, 'payload' | 'proto'> & { proto: number }, seg: Buffer, sizes: number[]): Buffer[] {
  const summed = l4Checksum(ip4(base.src), ip4(base.dst), base.proto, Buffer.from(seg));
  const out: Buffer[] = [];
  let off = 0;
  for (let i = 0; i <= sizes.length; i++) {
    const end = i === sizes.length ? summed.length : off + sizes[i];
    out.push(
      ipv4({ ...base, payload: summed.subarray(off, end), fragOffset: off, mf: end < summed.length, l4sum: false }),
    );
    off = end;
  }
  return out;
}

/** Splits `fragmentable` (starting with header `firstNext`) into IPv6 fragments after `unfrag` headers; `sizes` as for IPv4. */
function fragments6(
  base: { src: string; dst: string },
  unfrag: Ext[],
  firstNext: number,
  fragmentable: Buffer,
  sizes: number[],
  id: number,
): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  for (let i = 0; i <= sizes.length; i++) {
    const end = i === sizes.length ? fragmentable.length : off + sizes[i];
    out.push(
      ipv6({
        ...base,
        proto: firstNext,
        ext: [...unfrag, ext.fragment(off, end < fragmentable.length, id)],
        payload: fragmentable.subarray(off, end),
        l4sum: false,
      }),
    );
    off = end;
  }
  return out;
}

// ---------------------------------------------------------------------------
// The captures

const TLS_HELLO_START = Buffer.from('160301', 'hex');
const C4 = '192.0.2.10';
const S4 = '198.51.100.20';
const C6 = '2001:db8::10';
const S6 = '2001:db8:0:1::20';

const v4tcp = (t: TcpSpec, ip: Partial<Ip4Spec> = {}): Buffer => ipv4({ src: C4, dst: S4, proto: 6, payload: tcp(t), ...ip });
const v6tcp = (t: TcpSpec, ip: Partial<Ip6Spec> = {}): Buffer => ipv6({ src: C6, dst: S6, proto: 6, payload: tcp(t), ...ip });

const SYN_OPTS = tcpOptions(opt.mss(1460), opt.sackPerm(), opt.ts(0xfedcba98, 0), opt.nop(), opt.ws(7));
const SYN_SPEC: TcpSpec = { sport: 51000, dport: 443, seq: 0xf0000001, flags: SYN, window: 64240, options: SYN_OPTS };
const SYN_EXPECT: Expect = {
  result: R_TCP,
  srcPort: 51000,
  dstPort: 443,
  seq: 0xf0000001,
  ack: 0,
  tcpFlags: SYN,
  window: 64240,
  mss: 1460,
  windowScale: 7,
  sackPermitted: true,
  tsVal: 0xfedcba98,
  tsEcr: 0,
  payloadLength: 0,
  payloadWireLength: 0,
};

function v4(e: Expect, ipBytes: number, extra: Partial<Expect> = {}): Expect {
  return { ipVersion: 4, src: C4, dst: S4, protocol: 6, ttl: 64, ...e, ipBytes, ...extra };
}
function v6(e: Expect, ipBytes: number, extra: Partial<Expect> = {}): Expect {
  return { ipVersion: 6, src: C6, dst: S6, protocol: 6, ttl: 64, ...e, ipBytes, ...extra };
}

/** A data segment client → server with `n` payload bytes. */
function dataSpec(n: number, seed = 3): TcpSpec {
  return {
    sport: 51000,
    dport: 443,
    seq: 0xf0000002,
    ack: 0x12345679,
    flags: PSH | ACK,
    window: 502,
    options: tcpOptions(opt.nop(), opt.nop(), opt.ts(0xfedcbb00, 0x01020304)),
    payload: cat(TLS_HELLO_START, filler(n - 3, seed)),
  };
}
function dataExpect(n: number, ipHeader: number, extra: Partial<Expect> = {}): Partial<Expect> {
  return {
    result: R_TCP,
    srcPort: 51000,
    dstPort: 443,
    seq: 0xf0000002,
    ack: 0x12345679,
    tcpFlags: PSH | ACK,
    window: 502,
    tsVal: 0xfedcbb00,
    tsEcr: 0x01020304,
    mss: -1,
    windowScale: -1,
    sackPermitted: false,
    payloadLength: n,
    payloadWireLength: n,
    ipBytes: ipHeader + 32 + n,
    ...extra,
  };
}

function ethernetCapture(): CraftedCapture {
  const synack = tcp({
    sport: 443,
    dport: 51000,
    seq: 0x12345678,
    ack: 0xf0000002,
    flags: SYN | ACK,
    window: 65160,
    options: tcpOptions(opt.mss(1400), opt.sackPerm(), opt.ts(7, 0xfedcba98), opt.nop(), opt.ws(8)),
  });
  const data = dataSpec(100);
  const big = dataSpec(1000, 9);
  const bigFrame = ether(0x0800, v4tcp(big));
  const dns = Buffer.from('123401000001000000000000076578616d706c6503636f6d0000010001', 'hex');
  const arp = cat([0, 1, 8, 0, 6, 4, 0, 1], MAC_A, ip4(C4), Buffer.alloc(6), ip4(S4));
  const lldp = Buffer.from('0207046c0000000001040703020000000000060200780000', 'hex');
  return {
    name: 'ethernet.pcap',
    linkType: 1,
    frames: [
      { note: 'SYN with MSS, SACK-permitted, timestamps, NOP, window scale', data: ether(0x0800, v4tcp(SYN_SPEC)), expect: v4(SYN_EXPECT, 60) },
      {
        note: 'SYN-ACK',
        data: ether(0x0800, ipv4({ src: S4, dst: C4, proto: 6, payload: synack, ttl: 57 })),
        expect: {
          result: R_TCP, ipVersion: 4, src: S4, dst: C4, ttl: 57, ipBytes: 60, srcPort: 443, dstPort: 51000,
          seq: 0x12345678, ack: 0xf0000002, tcpFlags: SYN | ACK, window: 65160, mss: 1400, windowScale: 8,
          sackPermitted: true, tsVal: 7, tsEcr: 0xfedcba98, payloadLength: 0,
        },
      },
      {
        note: 'bare ACK: 54-byte frame padded to 60, the padding is not payload',
        data: ether(0x0800, v4tcp({ sport: 51000, dport: 443, seq: 0xf0000002, ack: 0x12345679, flags: ACK, window: 502 })),
        expect: v4({ result: R_TCP, tcpFlags: ACK, payloadLength: 0, payloadWireLength: 0, mss: -1, tsVal: -1 }, 40),
      },
      {
        note: 'data with NOP NOP timestamps',
        data: ether(0x0800, v4tcp(data)),
        expect: v4(dataExpect(100, 20) as Expect, 152, { payloadHex: data.payload!.toString('hex') }),
      },
      {
        note: 'UDP DNS query',
        data: ether(0x0800, ipv4({ src: C4, dst: '203.0.113.53', proto: 17, payload: udp(53000, 53, dns) })),
        expect: {
          result: R_OTHER_IP, ipVersion: 4, src: C4, dst: '203.0.113.53', protocol: 17, srcPort: 53000, dstPort: 53,
          payloadLength: dns.length, payloadWireLength: dns.length, payloadHex: dns.toString('hex'),
        },
      },
      {
        note: 'ICMP echo request',
        data: ether(0x0800, ipv4({ src: C4, dst: S4, proto: 1, payload: cat([8, 0, 0xf7, 0xfe, 0, 1, 0, 1]) })),
        expect: { result: R_OTHER_IP, ipVersion: 4, protocol: 1, payloadLength: 8, ipBytes: 28 },
      },
      { note: 'ARP request', data: ether(0x0806, arp), expect: { result: R_NOT_IP, ipVersion: 0 } },
      {
        note: 'IPv6 SYN',
        data: ether(0x86dd, v6tcp(SYN_SPEC)),
        expect: v6(SYN_EXPECT, 80),
      },
      {
        note: 'snap length cut the frame: 100 of 1000 payload bytes captured',
        data: bigFrame.subarray(0, 14 + 20 + 32 + 100),
        wirelen: bigFrame.length,
        expect: v4(dataExpect(1000, 20, { payloadLength: 100 }) as Expect, 1052),
      },
      { note: 'LLDP', data: ether(0x88cc, lldp), expect: { result: R_NOT_IP } },
      {
        note: 'IPv4 total length 0, as captured before TCP segmentation offload: the frame gives the length',
        data: ether(0x0800, v4tcp(dataSpec(100), { totalLength: 0 })),
        expect: v4(dataExpect(100, 20) as Expect, 152),
      },
    ],
  };
}

function qinqCapture(): CraftedCapture {
  const d = dataSpec(40);
  return {
    name: 'qinq.pcap',
    linkType: 1,
    frames: [
      {
        note: '802.1ad outer (vid 100) + 802.1Q inner (vid 200), IPv4 TCP',
        data: ether(0x0800, v4tcp(d), [[0x88a8, 100], [0x8100, 200]]),
        expect: v4(dataExpect(40, 20) as Expect, 92, { vlanDepth: 2, vlanId: 100 }),
      },
      {
        note: '802.1Q (vid 5, PCP 3), IPv6 UDP',
        data: ether(0x86dd, ipv6({ src: C6, dst: S6, proto: 17, payload: udp(5353, 5353, filler(30)) }), [[0x8100, 0x6005]]),
        expect: { result: R_OTHER_IP, ipVersion: 6, vlanDepth: 1, vlanId: 5, srcPort: 5353, dstPort: 5353, payloadLength: 30, ipBytes: 78 },
      },
      {
        note: 'pre-standard QinQ 0x9100 + 802.1Q, IPv4 SYN',
        data: ether(0x0800, v4tcp(SYN_SPEC), [[0x9100, 7], [0x8100, 8]]),
        expect: v4(SYN_EXPECT, 60, { vlanDepth: 2, vlanId: 7 }),
      },
    ],
  };
}

function cookedCapture(name: string, linkType: number, wrap: (proto: number, p: Buffer, pktType: number) => Buffer): CraftedCapture {
  const d = dataSpec(64);
  return {
    name,
    linkType,
    frames: [
      { note: 'IPv4 TCP data, to us', data: wrap(0x0800, v4tcp(d), 0), expect: v4(dataExpect(64, 20) as Expect, 116) },
      { note: 'IPv6 SYN, outgoing', data: wrap(0x86dd, v6tcp(SYN_SPEC), 4), expect: v6(SYN_EXPECT, 80) },
      { note: '802.2 LLC frame (protocol 0x0004)', data: wrap(0x0004, Buffer.from('424203000000', 'hex'), 0), expect: { result: R_NOT_IP } },
    ],
  };
}

function nullCapture(): CraftedCapture {
  return {
    name: 'null.pcap',
    linkType: 0,
    frames: [
      { note: 'AF_INET, little-endian host', data: cat(le32(2), v4tcp(SYN_SPEC)), expect: v4(SYN_EXPECT, 60) },
      { note: 'AF_INET6 = 24 (NetBSD/OpenBSD), little-endian', data: cat(le32(24), v6tcp(SYN_SPEC)), expect: v6(SYN_EXPECT, 80) },
      { note: 'AF_INET6 = 28 (FreeBSD), little-endian', data: cat(le32(28), v6tcp(SYN_SPEC)), expect: v6(SYN_EXPECT, 80) },
      { note: 'AF_INET6 = 30 (Darwin), little-endian', data: cat(le32(30), v6tcp(SYN_SPEC)), expect: v6(SYN_EXPECT, 80) },
      { note: 'AF_INET, big-endian host', data: cat(be32(2), v4tcp(dataSpec(10))), expect: v4(dataExpect(10, 20) as Expect, 62) },
      { note: 'AF_INET6 = 30, big-endian host', data: cat(be32(30), v6tcp(dataSpec(10))), expect: v6(dataExpect(10, 40) as Expect, 82) },
    ],
  };
}

function loopCapture(): CraftedCapture {
  return {
    name: 'loop.pcap',
    linkType: 108,
    frames: [
      { note: 'AF_INET, network order', data: cat(be32(2), v4tcp(SYN_SPEC)), expect: v4(SYN_EXPECT, 60) },
      { note: 'AF_INET6 = 24, network order', data: cat(be32(24), v6tcp(SYN_SPEC)), expect: v6(SYN_EXPECT, 80) },
    ],
  };
}

function rawCaptures(): CraftedCapture[] {
  const both = (name: string, linkType: number): CraftedCapture => ({
    name,
    linkType,
    frames: [
      { note: 'IPv4 SYN', data: v4tcp(SYN_SPEC), expect: v4(SYN_EXPECT, 60) },
      { note: 'IPv6 data', data: v6tcp(dataSpec(20)), expect: v6(dataExpect(20, 40) as Expect, 92) },
    ],
  });
  return [
    both('raw.pcap', 101),
    both('raw-dlt12.pcap', 12),
    {
      name: 'raw-ipv4.pcap',
      linkType: 228,
      frames: [{ note: 'IPv4 data', data: v4tcp(dataSpec(20)), expect: v4(dataExpect(20, 20) as Expect, 72) }],
    },
    {
      name: 'raw-ipv6.pcap',
      linkType: 229,
      frames: [{ note: 'IPv6 SYN', data: v6tcp(SYN_SPEC), expect: v6(SYN_EXPECT, 80) }],
    },
  ];
}

function ipv4OptionsCapture(): CraftedCapture {
  // Router Alert (4 bytes) + Record Route with room for one address (7) + EOL (1) = 12 bytes: IHL 8.
  const options = cat([148, 4, 0, 0], [7, 7, 4, 0, 0, 0, 0], [0]);
  const d = dataSpec(20);
  return {
    name: 'ipv4-options.pcap',
    linkType: 1,
    frames: [
      {
        note: 'IHL 8: router alert + record route',
        data: ether(0x0800, v4tcp(d, { options })),
        expect: v4(dataExpect(20, 32) as Expect, 84),
      },
      {
        note: 'IHL 6: NOP NOP NOP EOL, SYN',
        data: ether(0x0800, v4tcp(SYN_SPEC, { options: Buffer.from([1, 1, 1, 0]) })),
        expect: v4(SYN_EXPECT, 64),
      },
    ],
  };
}

function ipv4FragmentsCapture(): CraftedCapture {
  const d = dataSpec(1200, 5);
  const seg = tcp(d);
  const [f1, f2, f3] = fragments4({ src: C4, dst: S4, proto: 6, id: 0x4242 }, seg, [400, 400]);
  const dgram = filler(500, 8);
  const useg = udp(40000, 9999, dgram);
  const [u1, u2] = fragments4({ src: S4, dst: C4, proto: 17, id: 0x0707 }, useg, [256]);
  const held = (note: string, data: Buffer): CraftedFrame => ({
    note,
    data: ether(0x0800, data),
    expect: { result: R_HELD, ipVersion: 4, src: C4, dst: S4 },
  });
  return {
    name: 'ipv4-fragments.pcap',
    linkType: 1,
    frames: [
      held('TCP segment fragment 3/3 (last) first', f3),
      held('fragment 1/3', f1),
      { note: 'an unrelated SYN in between', data: ether(0x0800, v4tcp(SYN_SPEC)), expect: v4(SYN_EXPECT, 60) },
      {
        note: 'fragment 2/3 completes the datagram',
        data: ether(0x0800, f2),
        expect: v4(dataExpect(1200, 20) as Expect, 1252, { payloadHex: d.payload!.toString('hex') }),
      },
      { note: 'UDP fragment 2/2 first', data: ether(0x0800, u2), expect: { result: R_HELD, ipVersion: 4, src: S4, dst: C4 } },
      {
        note: 'UDP fragment 1/2 completes',
        data: ether(0x0800, u1),
        expect: {
          result: R_OTHER_IP, ipVersion: 4, src: S4, dst: C4, protocol: 17, srcPort: 40000, dstPort: 9999,
          payloadLength: 500, payloadWireLength: 500, ipBytes: 528, payloadHex: dgram.toString('hex'),
        },
      },
    ],
  };
}

function ipv6ExtCapture(): CraftedCapture {
  const d1 = dataSpec(600, 11);
  const seg1 = l4Checksum(ip6(C6), ip6(S6), 6, tcp(d1));
  // Hop-by-hop + destination options (unfragmentable) + fragment header; TCP fragmented in two.
  const [a1, a2] = fragments6({ src: C6, dst: S6 }, [ext.hopByHop(), ext.destOpts(14)], 6, seg1, [304], 0xabcdef01);
  // Hop-by-hop + fragment header; the fragmentable part starts with destination options, then TCP.
  const d2 = dataSpec(300, 12);
  const seg2 = l4Checksum(ip6(C6), ip6(S6), 6, tcp(d2));
  const dstOpts = cat([6, 0], padN(6)); // next header TCP, 8 bytes
  const [b1, b2, b3] = fragments6({ src: C6, dst: S6 }, [ext.hopByHop()], 60, cat(dstOpts, seg2), [120, 104], 0x01020304);
  return {
    name: 'ipv6-ext.pcap',
    linkType: 1,
    frames: [
      {
        note: 'hop-by-hop + routing (SRH, segments left 0) + destination options, SYN',
        data: ether(0x86dd, v6tcp(SYN_SPEC, { ext: [ext.hopByHop(), ext.routing(S6), ext.destOpts()] })),
        expect: v6(SYN_EXPECT, 80 + 8 + 24 + 8),
      },
      {
        note: 'hop-by-hop + AH, data',
        data: ether(0x86dd, v6tcp(dataSpec(50), { ext: [ext.hopByHop(), ext.ah()] })),
        expect: v6(dataExpect(50, 40 + 8 + 24) as Expect, 40 + 8 + 24 + 32 + 50),
      },
      {
        note: 'fragment 2/2 first (hop-by-hop + destination options + fragment)',
        data: ether(0x86dd, a2),
        expect: { result: R_HELD, ipVersion: 6, src: C6, dst: S6 },
      },
      {
        note: 'fragment 1/2 completes: TCP',
        data: ether(0x86dd, a1),
        expect: v6(dataExpect(600, 40 + 8 + 16) as Expect, 40 + 8 + 16 + 32 + 600, { payloadHex: d1.payload!.toString('hex') }),
      },
      { note: 'fragment 3/3 (destination options inside the fragmentable part)', data: ether(0x86dd, b3), expect: { result: R_HELD, ipVersion: 6 } },
      { note: 'fragment 1/3', data: ether(0x86dd, b1), expect: { result: R_HELD, ipVersion: 6 } },
      {
        note: 'fragment 2/3 completes: destination options, then TCP',
        data: ether(0x86dd, b2),
        expect: v6(dataExpect(300, 40 + 8) as Expect, 40 + 8 + 8 + 32 + 300, { payloadHex: d2.payload!.toString('hex') }),
      },
      {
        note: 'atomic fragment (offset 0, M = 0): just a header',
        data: ether(0x86dd, v6tcp(SYN_SPEC, { ext: [ext.fragment(0, false, 99)] })),
        expect: v6(SYN_EXPECT, 88),
      },
    ],
  };
}

function tcpOptionsCapture(): CraftedCapture {
  const all = tcpOptions(
    opt.mss(8960),
    opt.nop(),
    opt.ws(14),
    opt.sackPerm(),
    opt.ts(0xffffffff, 0x80000000),
    cat([34, 10], filler(8, 2)), // TCP Fast Open cookie: unknown here, skipped by length
    cat([30, 4], [0x00, 0x81]), // MPTCP MP_CAPABLE-ish: skipped
    opt.eol(),
  );
  const sackAck = tcpOptions(opt.nop(), opt.nop(), opt.ts(100, 200), opt.nop(), opt.nop(), opt.sack(1000, 2000, 3000, 4000));
  const badMss = tcpOptions(cat([2, 3, 5]), opt.ws(2)); // MSS of length 3: counted, skipped; WS still read
  const overrun = Buffer.from([1, 1, 8, 10, 0, 0, 0, 0]); // timestamps claiming 10 bytes in the last 6
  const zeroLen = Buffer.from([3, 0, 0, 0]);
  const t = (options: Buffer, flags = SYN, payload?: Buffer) => tcp({ sport: 40001, dport: 8443, seq: 1, ack: flags & ACK ? 2 : 0, flags, options, payload });
  const base = { result: R_TCP, ipVersion: 4, srcPort: 40001, dstPort: 8443 } as const;
  return {
    name: 'tcp-options.pcap',
    linkType: 1,
    frames: [
      {
        note: 'every option: MSS, NOP, WS 14, SACK-permitted, TS with high bits, TFO, MPTCP, EOL',
        data: ether(0x0800, ipv4({ src: C4, dst: S4, proto: 6, payload: t(all) })),
        expect: { ...base, mss: 8960, windowScale: 14, sackPermitted: true, tsVal: 0xffffffff, tsEcr: 0x80000000, payloadLength: 0 },
      },
      {
        note: 'ACK with two SACK blocks and timestamps, 10 bytes of data',
        data: ether(0x0800, ipv4({ src: C4, dst: S4, proto: 6, payload: t(sackAck, ACK, filler(10)) })),
        expect: { ...base, tsVal: 100, tsEcr: 200, mss: -1, sackPermitted: false, payloadLength: 10, tcpFlags: ACK },
      },
      {
        note: 'MSS of length 3: counted and skipped, window scale still read',
        data: ether(0x0800, ipv4({ src: C4, dst: S4, proto: 6, payload: t(badMss) })),
        expect: { ...base, mss: -1, windowScale: 2, anomalies: { 'decode.tcp.option_invalid_length': 1 } },
      },
      {
        note: 'timestamps option running past the header: counted, segment still delivered',
        data: ether(0x0800, ipv4({ src: C4, dst: S4, proto: 6, payload: t(overrun) })),
        expect: { ...base, tsVal: -1, anomalies: { 'decode.tcp.option_truncated': 1 } },
      },
      {
        note: 'option of length 0: counted, walk stops',
        data: ether(0x0800, ipv4({ src: C4, dst: S4, proto: 6, payload: t(zeroLen) })),
        expect: { ...base, windowScale: -1, anomalies: { 'decode.tcp.option_invalid_length': 1 } },
      },
    ],
  };
}

// --- tunnels -----------------------------------------------------------------

const O4a = '10.255.0.1';
const O4b = '10.255.0.2';

function greCapture(): CraftedCapture {
  const d = dataSpec(30);
  const inner = v4tcp(d);
  const outer = (payload: Buffer) => ether(0x0800, ipv4({ src: O4a, dst: O4b, proto: 47, payload }));
  const inner6 = v6tcp(SYN_SPEC);
  return {
    name: 'gre.pcap',
    linkType: 1,
    frames: [
      {
        note: 'GRE, IPv4 inside',
        data: outer(cat([0, 0, 0x08, 0x00], inner)),
        expect: v4(dataExpect(30, 20) as Expect, 82, { tunnels: ['gre'] }),
      },
      {
        note: 'GRE with checksum, key and sequence, IPv6 inside',
        data: outer(cat([0xb0, 0x00, 0x86, 0xdd], Buffer.alloc(4), be32(42), be32(7), inner6)),
        expect: v6(SYN_EXPECT, 80, { tunnels: ['gre'] }),
      },
      {
        note: 'GRE transparent Ethernet bridging (0x6558)',
        data: outer(cat([0x20, 0x00, 0x65, 0x58], be32(5), ether(0x0800, inner))),
        expect: v4(dataExpect(30, 20) as Expect, 82, { tunnels: ['gre'] }),
      },
      {
        note: 'ERSPAN type I (no sequence)',
        data: outer(cat([0, 0, 0x88, 0xbe], ether(0x0800, inner))),
        expect: v4(dataExpect(30, 20) as Expect, 82, { tunnels: ['erspan'] }),
      },
      {
        note: 'ERSPAN type II',
        data: outer(cat([0x10, 0, 0x88, 0xbe], be32(1), [0x10, 0x64, 0x00, 0x05], be32(3), ether(0x0800, inner))),
        expect: v4(dataExpect(30, 20) as Expect, 82, { tunnels: ['erspan'] }),
      },
      {
        note: 'ERSPAN type III with platform sub-header',
        data: outer(cat([0x10, 0, 0x22, 0xeb], be32(1), [0x20, 0x64, 0x00, 0x05], be32(123456), [0, 0, 0, 0x01], Buffer.alloc(8), ether(0x0800, inner))),
        expect: v4(dataExpect(30, 20) as Expect, 82, { tunnels: ['erspan'] }),
      },
      {
        note: 'IPv4 in IPv4',
        data: ether(0x0800, ipv4({ src: O4a, dst: O4b, proto: 4, payload: inner })),
        expect: v4(dataExpect(30, 20) as Expect, 82, { tunnels: ['ipInIp'] }),
      },
      {
        note: 'IPv6 in IPv4 (6in4)',
        data: ether(0x0800, ipv4({ src: O4a, dst: O4b, proto: 41, payload: inner6 })),
        expect: v6(SYN_EXPECT, 80, { tunnels: ['ipInIp'] }),
      },
    ],
  };
}

function udpTunnelCapture(): CraftedCapture {
  const d = dataSpec(30);
  const innerFrame = ether(0x0800, v4tcp(d));
  const outerUdp = (dport: number, payload: Buffer) =>
    ether(0x0800, ipv4({ src: O4a, dst: O4b, proto: 17, payload: udp(49152, dport, payload) }));
  return {
    name: 'vxlan-geneve.pcap',
    linkType: 1,
    frames: [
      {
        note: 'VXLAN VNI 4242',
        data: outerUdp(4789, cat([0x08, 0, 0, 0], [0x00, 0x10, 0x92, 0x00], innerFrame)),
        expect: v4(dataExpect(30, 20) as Expect, 82, { tunnels: ['vxlan'] }),
      },
      {
        note: 'Geneve with 8 bytes of options, Ethernet inside',
        data: outerUdp(6081, cat([0x02, 0x00, 0x65, 0x58], [0, 0, 7, 0], [0x01, 0x02, 0x03, 0x01], Buffer.alloc(4), innerFrame)),
        expect: v4(dataExpect(30, 20) as Expect, 82, { tunnels: ['geneve'] }),
      },
      {
        note: 'VXLAN-GPE (4790), next protocol IPv4',
        data: outerUdp(4790, cat([0x0c, 0, 0, 0x01], [0x00, 0x00, 0x2a, 0x00], v4tcp(d))),
        expect: v4(dataExpect(30, 20) as Expect, 82, { tunnels: ['vxlan'] }),
      },
      {
        note: 'UDP to 4789 without the VXLAN I flag stays UDP',
        data: outerUdp(4789, Buffer.alloc(16)),
        expect: { result: R_OTHER_IP, ipVersion: 4, src: O4a, dst: O4b, protocol: 17, srcPort: 49152, dstPort: 4789, payloadLength: 16 },
      },
    ],
    tsharkSkip: { 3: 'tshark decodes port 4789 as VXLAN whatever the flags' },
  };
}

function mplsPppoeCapture(): CraftedCapture {
  const d = dataSpec(30);
  const inner = v4tcp(d);
  const label = (l: number, bos: boolean, ttl = 64) => be32((l << 12) | (bos ? 0x100 : 0) | ttl);
  const pppoe = (proto: number, payload: Buffer) => cat([0x11, 0x00], be16(0x0101), be16(2 + payload.length), be16(proto), payload);
  return {
    name: 'mpls-pppoe.pcap',
    linkType: 1,
    frames: [
      {
        note: 'MPLS two labels, IPv4 by first nibble',
        data: ether(0x8847, cat(label(1000, false), label(2000, true), inner)),
        expect: v4(dataExpect(30, 20) as Expect, 82, { tunnels: ['mpls'] }),
      },
      {
        note: 'MPLS IPv6 explicit null',
        data: ether(0x8847, cat(label(2, true), v6tcp(SYN_SPEC))),
        expect: v6(SYN_EXPECT, 80, { tunnels: ['mpls'] }),
      },
      {
        note: 'PPPoE session, IPv4',
        data: ether(0x8864, pppoe(0x0021, inner)),
        expect: v4(dataExpect(30, 20) as Expect, 82, { tunnels: ['pppoe'] }),
      },
      {
        note: 'PPPoE session, IPv6 SYN',
        data: ether(0x8864, pppoe(0x0057, v6tcp(SYN_SPEC))),
        expect: v6(SYN_EXPECT, 80, { tunnels: ['pppoe'] }),
      },
      {
        note: 'PPPoE session, LCP echo: not IP',
        data: ether(0x8864, pppoe(0xc021, Buffer.from('0901000800000000', 'hex'))),
        expect: { result: R_NOT_IP, tunnels: ['pppoe'] },
      },
    ],
  };
}

function pppCapture(): CraftedCapture {
  return {
    name: 'ppp.pcap',
    linkType: 9,
    frames: [
      {
        note: 'HDLC-like framing (ff 03), IPv4',
        data: cat([0xff, 0x03, 0x00, 0x21], v4tcp(dataSpec(30))),
        expect: v4(dataExpect(30, 20) as Expect, 82),
      },
      {
        note: 'no address/control, compressed protocol field (0x57), IPv6',
        data: cat([0x57], v6tcp(SYN_SPEC)),
        expect: v6(SYN_EXPECT, 80),
      },
      { note: 'LCP: not IP', data: cat([0xff, 0x03, 0xc0, 0x21], Buffer.from('0901000800000000', 'hex')), expect: { result: R_NOT_IP } },
    ],
  };
}

/** Every crafted capture, in a fixed order. */
export function craftCaptures(): CraftedCapture[] {
  return [
    ethernetCapture(),
    qinqCapture(),
    cookedCapture('sll.pcap', 113, (proto, p, t) => sll(proto, p, t)),
    cookedCapture('sll2.pcap', 276, (proto, p, t) => sll2(proto, p, t)),
    nullCapture(),
    loopCapture(),
    ...rawCaptures(),
    ipv4OptionsCapture(),
    ipv4FragmentsCapture(),
    ipv6ExtCapture(),
    tcpOptionsCapture(),
    greCapture(),
    udpTunnelCapture(),
    mplsPppoeCapture(),
    pppCapture(),
  ];
}

export const TS_BASE_SECONDS = 1_700_000_000;

/** Packet time of frame `i`: one millisecond apart. */
export function frameMicros(i: number): number {
  return TS_BASE_SECONDS * 1_000_000 + i * 1000;
}

/** Classic pcap (little-endian, microseconds) bytes of a capture. */
export function pcapBytes(cap: CraftedCapture): Buffer {
  const parts: Buffer[] = [];
  const gh = Buffer.alloc(24);
  gh.writeUInt32LE(0xa1b2c3d4, 0);
  gh.writeUInt16LE(2, 4);
  gh.writeUInt16LE(4, 6);
  gh.writeUInt32LE(262144, 16);
  gh.writeUInt32LE(cap.linkType, 20);
  parts.push(gh);
  cap.frames.forEach((f, i) => {
    const rh = Buffer.alloc(16);
    const us = frameMicros(i);
    rh.writeUInt32LE(Math.floor(us / 1e6), 0);
    rh.writeUInt32LE(us % 1e6, 4);
    rh.writeUInt32LE(f.data.length, 8);
    rh.writeUInt32LE(f.wirelen ?? f.data.length, 12);
    parts.push(rh, f.data);
  });
  return Buffer.concat(parts);
}

/** Writes every capture into `dir`; returns the paths. */
export function writeCaptures(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  return craftCaptures().map((cap) => {
    const p = join(dir, cap.name);
    writeFileSync(p, pcapBytes(cap));
    return p;
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: npx tsx scripts/craft-pcaps.ts OUTDIR');
    process.exit(2);
  }
  for (const p of writeCaptures(dir)) console.log(p);
}
