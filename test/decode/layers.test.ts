/**
 * Per-layer edge cases: the checks each decoder makes, the anomaly it names,
 * what it counts as not IP or not decoded, and the option switches.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ACK, PSH, SYN, ether, ext, filler, ipv4, ipv6, opt, sll, sll2, tcp, tcpOptions, udp } from '../../scripts/craft-pcaps.js';
import { AnomalyCounters, anomalyDefinitions } from '../../src/shared/anomalies.js';
import {
  DECODE_FAILED,
  DECODE_NOT_IP,
  DECODE_OTHER_IP,
  DECODE_TCP,
  Decoder,
  PacketView,
  type DecoderOptions,
} from '../../src/decode/index.js';
import { record } from './helpers.js';

const C = '192.0.2.10';
const S = '198.51.100.20';
const seg = (payload: Buffer = Buffer.alloc(0), flags = PSH | ACK): Buffer => tcp({ sport: 1234, dport: 443, seq: 7, ack: 9, flags, payload });
const v4 = (payload: Buffer = seg(), extra = {}): Buffer => ipv4({ src: C, dst: S, proto: 6, payload, ...extra });

function setup(options?: DecoderOptions) {
  const counters = new AnomalyCounters();
  const dec = new Decoder(counters, options);
  const view = new PacketView();
  const run = (frame: Buffer, linkType = 1, wirelen = frame.length) => dec.decode(record(linkType, frame, wirelen), view);
  /** Anomalies counted by `fn`, by name. */
  const counted = (fn: () => void): Record<string, number> => {
    const before = counters.toObject();
    fn();
    const out: Record<string, number> = {};
    for (const [k, n] of Object.entries(counters.toObject())) if (n !== (before[k] ?? 0)) out[k] = n - (before[k] ?? 0);
    return out;
  };
  return { counters, dec, view, run, counted };
}

test('the decode anomaly catalogue: stable dotted names', () => {
  new Decoder(new AnomalyCounters()); // modules loaded
  const names = anomalyDefinitions().map((d) => d.name).filter((n) => n.startsWith('decode.')).sort();
  assert.deepEqual(names, [
    'decode.erspan.bad_version',
    'decode.erspan.truncated',
    'decode.ethernet.truncated',
    'decode.frag.evicted',
    'decode.frag.memcap',
    'decode.geneve.truncated',
    'decode.gre.truncated',
    'decode.icmpv4.truncated',
    'decode.icmpv6.truncated',
    'decode.ipv4.bad_header_length',
    'decode.ipv4.bad_total_length',
    'decode.ipv4.bad_version',
    'decode.ipv4.frag_invalid_length',
    'decode.ipv4.frag_overlap',
    'decode.ipv4.frag_pkt_too_large',
    'decode.ipv4.frag_truncated',
    'decode.ipv4.option_malformed',
    'decode.ipv4.truncated',
    'decode.ipv6.bad_version',
    'decode.ipv6.ext_header_truncated',
    'decode.ipv6.frag_invalid_length',
    'decode.ipv6.frag_nested',
    'decode.ipv6.frag_overlap',
    'decode.ipv6.frag_pkt_too_large',
    'decode.ipv6.frag_truncated',
    'decode.ipv6.jumbogram',
    'decode.ipv6.truncated',
    'decode.link.unsupported',
    'decode.loop.truncated',
    'decode.mpls.truncated',
    'decode.null.truncated',
    'decode.ppp.truncated',
    'decode.pppoe.bad_header',
    'decode.pppoe.truncated',
    'decode.raw.bad_ip_version',
    'decode.raw.truncated',
    'decode.sll.truncated',
    'decode.sll2.truncated',
    'decode.tcp.bad_data_offset',
    'decode.tcp.option_invalid_length',
    'decode.tcp.option_truncated',
    'decode.tcp.truncated',
    'decode.tunnel.too_deep',
    'decode.udp.bad_length',
    'decode.udp.truncated',
    'decode.vlan.too_many_layers',
    'decode.vlan.truncated',
  ]);
  for (const d of anomalyDefinitions()) if (d.name.startsWith('decode.')) assert.ok(d.description.length > 10, d.name);
});

test('an unknown link type is an anomaly and listed as not decoded', (t) => {
  const { run, dec, counted } = setup();
  assert.deepEqual(counted(() => assert.equal(run(Buffer.alloc(40), 127), DECODE_FAILED)), { 'decode.link.unsupported': 1 });
  run(Buffer.alloc(40), 1_000_000);
  run(Buffer.alloc(40), -3);
  const nd = dec.stats.snapshot().notDecoded;
  assert.deepEqual(nd, { 'linktype 127 (ieee802.11 radiotap)': 1, 'linktype >= 65535': 2 });
  t.diagnostic(`not decoded: ${JSON.stringify(nd)}`);
});

test('ethertypes: known non-IP, unknown, 802.3 LLC', () => {
  const { run, dec, counted } = setup();
  assert.deepEqual(counted(() => {
    assert.equal(run(ether(0x0806, Buffer.alloc(28))), DECODE_NOT_IP);
    assert.equal(run(ether(0x88e5, Buffer.alloc(40))), DECODE_NOT_IP); // MACsec: can't look inside
    assert.equal(run(ether(0x0026, Buffer.from('424203000000', 'hex'))), DECODE_NOT_IP); // 802.3 length + STP
  }), {});
  const s = dec.stats.snapshot();
  assert.deepEqual(s.notIpTypes, { '802.3 llc': 1, 'ethertype 0x0806 (ARP)': 1 });
  assert.deepEqual(s.notDecoded, { 'ethertype 0x88e5 (MACsec)': 1 });
  assert.equal(s.notIp, 3);
});

test('Ethernet and VLAN bounds, and the VLAN depth cap', () => {
  const { run, view, counted } = setup();
  assert.deepEqual(counted(() => assert.equal(run(Buffer.alloc(13)), DECODE_FAILED)), { 'decode.ethernet.truncated': 1 });
  const tagged = ether(0x0800, v4(), [[0x8100, 10], [0x8100, 20], [0x8100, 30]]);
  assert.equal(run(tagged), DECODE_TCP);
  assert.equal(view.vlanDepth, 3);
  assert.equal(view.vlanId, 10);
  const four = ether(0x0800, v4(), [[0x88a8, 1], [0x8100, 2], [0x8100, 3], [0x8100, 4]]);
  assert.deepEqual(counted(() => assert.equal(run(four), DECODE_FAILED)), { 'decode.vlan.too_many_layers': 1 });
  assert.equal(setup({ maxVlanDepth: 4 }).run(four), DECODE_TCP);
  assert.deepEqual(counted(() => assert.equal(run(ether(0x8100, Buffer.alloc(0)).subarray(0, 16)), DECODE_FAILED)), {
    'decode.vlan.truncated': 1,
  });
});

test('SLL / SLL2 truncation, netlink, and SLL2 with a VLAN protocol', () => {
  const { run, view, dec, counted } = setup();
  assert.deepEqual(counted(() => run(Buffer.alloc(15), 113)), { 'decode.sll.truncated': 1 });
  assert.deepEqual(counted(() => run(Buffer.alloc(19), 276)), { 'decode.sll2.truncated': 1 });
  assert.equal(run(sll(0x0010, Buffer.alloc(20), 4, 824), 113), DECODE_NOT_IP);
  assert.equal(run(sll2(0x0800, v4(), 0, 1), 276), DECODE_TCP);
  const tag = Buffer.concat([Buffer.from([0x00, 0x2a, 0x08, 0x00]), v4()]);
  assert.equal(run(sll(0x8100, tag), 113), DECODE_TCP);
  assert.equal(view.vlanId, 42);
  assert.equal(dec.stats.snapshot().notIpTypes['sll netlink'], 1);
});

test('NULL / LOOP families', () => {
  const { run, dec, counted } = setup();
  const le = (n: number) => Buffer.from([n, 0, 0, 0]);
  assert.deepEqual(counted(() => run(Buffer.alloc(3), 0)), { 'decode.null.truncated': 1 });
  assert.deepEqual(counted(() => run(Buffer.alloc(3), 108)), { 'decode.loop.truncated': 1 });
  assert.equal(run(Buffer.concat([le(23), Buffer.alloc(30)]), 0), DECODE_NOT_IP); // IPX
  assert.equal(run(Buffer.concat([le(99), Buffer.alloc(30)]), 0), DECODE_NOT_IP);
  assert.equal(run(Buffer.concat([le(2), v4()]), 108), DECODE_NOT_IP, 'LOOP is network order: 0x02000000 is no family');
  const s = dec.stats.snapshot();
  assert.equal(s.notIpTypes['null family 23'], 1);
  assert.equal(s.notDecoded['null family 99'], 1);
  assert.equal(s.notDecoded['null family >= 65535'], 1);
});

test('raw IP: empty frame and a version that is neither 4 nor 6', () => {
  const { run, counted } = setup();
  assert.deepEqual(counted(() => run(Buffer.alloc(0), 101)), { 'decode.raw.truncated': 1 });
  assert.deepEqual(counted(() => run(Buffer.from([0x50, 0, 0, 0]), 101)), { 'decode.raw.bad_ip_version': 1 });
  assert.deepEqual(counted(() => run(v4(), 229)), { 'decode.ipv6.bad_version': 1 });
  assert.deepEqual(counted(() => run(ipv6({ src: '::1', dst: '::2', proto: 6, payload: seg() }), 228)), {
    'decode.ipv4.bad_version': 1,
  });
});

test('PPP link: truncation and a compressed protocol field', () => {
  const { run, counted } = setup();
  assert.deepEqual(counted(() => assert.equal(run(Buffer.from([0xff, 0x03]), 9), DECODE_FAILED)), { 'decode.ppp.truncated': 1 });
  assert.deepEqual(counted(() => assert.equal(run(Buffer.from([0x00]), 50), DECODE_FAILED)), { 'decode.ppp.truncated': 1 });
  assert.equal(run(Buffer.concat([Buffer.from([0xff, 0x03, 0x21]), v4()]), 50), DECODE_TCP);
});

test('IPv4 header checks', () => {
  const { run, counted } = setup();
  const pkt = v4();
  const bad = (mutate: (b: Buffer) => void) => {
    const b = Buffer.from(pkt);
    mutate(b);
    return run(b, 228);
  };
  assert.deepEqual(counted(() => assert.equal(bad((b) => (b[0] = 0x44)), DECODE_FAILED)), { 'decode.ipv4.bad_header_length': 1 });
  assert.deepEqual(counted(() => assert.equal(bad((b) => b.writeUInt16BE(19, 2)), DECODE_FAILED)), { 'decode.ipv4.bad_total_length': 1 });
  assert.deepEqual(counted(() => assert.equal(bad((b) => (b[0] = 0x4f)), DECODE_FAILED)), { 'decode.ipv4.bad_total_length': 1 }); // 60-byte header in 40
  const longHeader = (b: Buffer) => {
    b[0] = 0x4f;
    b.writeUInt16BE(60, 2);
  };
  assert.deepEqual(counted(() => assert.equal(bad(longHeader), DECODE_FAILED)), { 'decode.ipv4.truncated': 1 }); // 60-byte header, 40 captured
  assert.deepEqual(counted(() => assert.equal(run(pkt.subarray(0, 19), 228), DECODE_FAILED)), { 'decode.ipv4.truncated': 1 });
  const opts = v4(seg(), { options: Buffer.from([7, 9, 4, 0]) }); // record route claiming 9 bytes in 4
  assert.deepEqual(counted(() => assert.equal(run(opts, 228), DECODE_TCP)), { 'decode.ipv4.option_malformed': 1 });
});

test('IPv4 total length past the capture: snap length cut (no anomaly) or a lie (anomaly), payload delivered either way', () => {
  const { run, view, dec, counted } = setup();
  const full = v4(seg(filler(500)));
  const cut = full.subarray(0, 20 + 20 + 100);
  assert.deepEqual(counted(() => assert.equal(run(cut, 228, full.length), DECODE_TCP)), {});
  assert.equal(view.payloadLength, 100);
  assert.equal(view.payloadWireLength, 500);
  assert.equal(view.ipBytes, 540);
  assert.equal(dec.stats.snapTruncated, 1);
  assert.deepEqual(counted(() => assert.equal(run(cut, 228, cut.length), DECODE_TCP)), { 'decode.ipv4.truncated': 1 });
  assert.equal(view.payloadLength, 100);
  assert.equal(view.payloadWireLength, 500);
  // Trailing bytes after the total length are padding, not payload.
  assert.equal(run(Buffer.concat([v4(seg(filler(3))), Buffer.alloc(17, 0xff)]), 228), DECODE_TCP);
  assert.equal(view.payloadLength, 3);
});

test('TCP data offset and truncation', () => {
  const { run, view, counted } = setup();
  const withOffset = (words: number, payload: Buffer = Buffer.alloc(0)) =>
    v4(tcp({ sport: 1, dport: 2, seq: 3, flags: SYN, dataOffset: words, payload }));
  assert.deepEqual(counted(() => assert.equal(run(withOffset(4), 228), DECODE_FAILED)), { 'decode.tcp.bad_data_offset': 1 });
  assert.deepEqual(counted(() => assert.equal(run(withOffset(15, Buffer.alloc(4)), 228), DECODE_FAILED)), {
    'decode.tcp.bad_data_offset': 1,
  });
  const big = withOffset(15, Buffer.alloc(40, 1)); // 60-byte header: 20 + 40 bytes of NOP-less "options"
  assert.deepEqual(counted(() => assert.equal(run(big.subarray(0, 50), 228, big.length), DECODE_FAILED)), { 'decode.tcp.truncated': 1 });
  assert.deepEqual(counted(() => assert.equal(run(v4().subarray(0, 39), 228, 40), DECODE_FAILED)), { 'decode.tcp.truncated': 1 });
  // sequence numbers above 2^31 stay unsigned
  assert.equal(run(v4(tcp({ sport: 1, dport: 2, seq: 0xffffffff, ack: 0x80000000, flags: ACK })), 228), DECODE_TCP);
  assert.equal(view.seq, 0xffffffff);
  assert.equal(view.ack, 0x80000000);
});

test('options of one packet do not leak into the next (the view is reset)', () => {
  const { run, view } = setup();
  const syn = v4(tcp({ sport: 1, dport: 2, seq: 3, flags: SYN, options: tcpOptions(opt.mss(1000), opt.ws(3), opt.sackPerm(), opt.ts(1, 2)) }));
  assert.equal(run(ether(0x0800, syn, [[0x8100, 9]])), DECODE_TCP);
  assert.deepEqual([view.mss, view.windowScale, view.sackPermitted, view.tsVal, view.vlanDepth], [1000, 3, true, 1, 1]);
  assert.equal(run(ether(0x0800, v4())), DECODE_TCP);
  assert.deepEqual([view.mss, view.windowScale, view.sackPermitted, view.tsVal, view.tsEcr, view.vlanDepth], [-1, -1, false, -1, -1, 0]);
  assert.equal(run(ether(0x86dd, ipv6({ src: '2001:db8::1', dst: '2001:db8::2', proto: 6, payload: seg() }))), DECODE_TCP);
  assert.equal(run(ether(0x0800, v4())), DECODE_TCP);
  assert.deepEqual([view.src1, view.src2, view.src3, view.dst1, view.dst2, view.dst3], [0, 0, 0, 0, 0, 0], 'IPv4 clears words 1..3');
});

test('UDP lengths', () => {
  const { run, view, counted } = setup();
  const u = udp(1, 2, filler(20));
  const withLen = (n: number) => {
    const b = Buffer.from(u);
    b.writeUInt16BE(n, 4);
    return ipv4({ src: C, dst: S, proto: 17, payload: b, l4sum: false });
  };
  assert.deepEqual(counted(() => assert.equal(run(withLen(7), 228), DECODE_FAILED)), { 'decode.udp.bad_length': 1 });
  assert.deepEqual(counted(() => assert.equal(run(withLen(29), 228), DECODE_FAILED)), { 'decode.udp.bad_length': 1 });
  assert.equal(run(withLen(18), 228), DECODE_OTHER_IP);
  assert.equal(view.payloadLength, 10, 'the UDP length bounds the payload');
  assert.deepEqual(counted(() => run(ipv4({ src: C, dst: S, proto: 17, payload: Buffer.alloc(7), l4sum: false }), 228)), {
    'decode.udp.truncated': 1,
  });
});

test('ICMP and other protocols', () => {
  const { run, dec, counted } = setup();
  assert.deepEqual(counted(() => run(ipv4({ src: C, dst: S, proto: 1, payload: Buffer.alloc(3) }), 228)), { 'decode.icmpv4.truncated': 1 });
  assert.equal(run(ipv6({ src: '::1', dst: '::2', proto: 58, payload: Buffer.from([128, 0, 0, 0, 0, 1, 0, 1]) }), 229), DECODE_OTHER_IP);
  assert.equal(run(ipv4({ src: C, dst: S, proto: 132, payload: Buffer.alloc(12) }), 228), DECODE_OTHER_IP);
  assert.equal(run(ipv6({ src: '::1', dst: '::2', proto: 59, payload: Buffer.alloc(0) }), 229), DECODE_OTHER_IP);
  assert.equal(run(ipv6({ src: '::1', dst: '::2', proto: 50, payload: Buffer.alloc(16) }), 229), DECODE_OTHER_IP);
  const s = dec.stats.snapshot();
  assert.equal(s.icmpv6, 1);
  assert.deepEqual(s.otherIpProtocols, { '132 (sctp)': 1, '50 (esp)': 1, '59 (ipv6-nonxt)': 1 });
});

test('IPv6 extension header truncation and jumbograms', () => {
  const { run, view, counted } = setup();
  const p = ipv6({ src: '::1', dst: '::2', proto: 6, ext: [ext.hopByHop(), ext.destOpts(14)], payload: seg() });
  assert.deepEqual(counted(() => assert.equal(run(p.subarray(0, 40 + 8 + 10), 229), DECODE_FAILED)), {
    'decode.ipv6.truncated': 1,
    'decode.ipv6.ext_header_truncated': 1,
  });
  const lying = Buffer.from(p);
  lying[40 + 8 + 1] = 200; // destination options claiming 1608 bytes
  assert.deepEqual(counted(() => assert.equal(run(lying, 229), DECODE_FAILED)), { 'decode.ipv6.ext_header_truncated': 1 });
  // Jumbogram: payload length 0, hop-by-hop with the Jumbo Payload option (type 0xc2, length 4).
  const body = seg(filler(100));
  const hbh = Buffer.from([6, 0, 0xc2, 4, 0, 0, 0, 0]);
  hbh.writeUInt32BE(8 + body.length, 4);
  const jumbo = ipv6({ src: '::1', dst: '::2', proto: 0, payload: Buffer.concat([hbh, body]), payloadLength: 0, l4sum: false });
  assert.deepEqual(counted(() => assert.equal(run(jumbo, 229), DECODE_TCP)), { 'decode.ipv6.jumbogram': 1 });
  assert.equal(view.payloadLength, 100);
  assert.equal(view.ipBytes, 40 + 8 + 20 + 100);
  // Payload length 0 without a jumbo option: segmentation offload / BIG TCP, the frame gives the length.
  const big = ipv6({ src: '::1', dst: '::2', proto: 6, payload: seg(filler(3000)), payloadLength: 0 });
  assert.deepEqual(counted(() => assert.equal(run(big, 229), DECODE_TCP)), {});
  assert.equal(view.payloadWireLength, 3000);
  assert.equal(view.ipBytes, 40 + 20 + 3000);
});

test('tunnels: MPLS pseudowire, GRE version 1, ERSPAN III non-Ethernet, PPPoE header, Geneve options, depth cap', () => {
  const { run, dec, view, counted } = setup();
  const mplsPw = Buffer.concat([Buffer.from([0x00, 0x3e, 0x81, 0x40]), Buffer.alloc(4), ether(0x0800, v4())]);
  assert.equal(run(ether(0x8847, mplsPw)), DECODE_TCP);
  assert.deepEqual(counted(() => run(ether(0x8847, Buffer.from([0, 0, 0, 64])))), { 'decode.mpls.truncated': 1 });
  assert.equal(run(ether(0x8847, Buffer.concat([Buffer.from([0x00, 0x3e, 0x81, 0x40]), Buffer.alloc(20, 0x90)]))), DECODE_NOT_IP);

  const gre = (body: Buffer) => ether(0x0800, ipv4({ src: C, dst: S, proto: 47, payload: body }));
  assert.equal(run(gre(Buffer.from([0x30, 0x01, 0x88, 0x0b, 0, 0, 0, 0, 0, 0, 0, 1]))), DECODE_NOT_IP); // PPTP
  assert.deepEqual(counted(() => run(gre(Buffer.from([0xb0, 0x00, 0x08, 0x00, 0, 0])))), { 'decode.gre.truncated': 1 });
  const e3 = Buffer.concat([Buffer.from([0, 0, 0x22, 0xeb]), Buffer.from([0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x08, 0]), v4()]);
  assert.equal(run(gre(e3)), DECODE_NOT_IP); // frame type 2 (IP)
  const e2 = Buffer.concat([Buffer.from([0x10, 0, 0x88, 0xbe, 0, 0, 0, 1]), Buffer.from([0x20, 0, 0, 1, 0, 0, 0, 0])]);
  assert.deepEqual(counted(() => run(gre(e2))), { 'decode.erspan.bad_version': 1 });

  assert.deepEqual(counted(() => run(ether(0x8864, Buffer.from([0x11, 0x09, 0, 1, 0, 2, 0, 0x21])))), { 'decode.pppoe.bad_header': 1 });
  assert.deepEqual(counted(() => run(ether(0x8864, Buffer.alloc(7, 0x11)).subarray(0, 21))), { 'decode.pppoe.truncated': 1 });

  const geneve = ipv4({ src: C, dst: S, proto: 17, payload: udp(1, 6081, Buffer.from([0x3f, 0, 0x65, 0x58, 0, 0, 1, 0, 1, 2, 3, 4])) });
  assert.deepEqual(counted(() => run(geneve, 228)), { 'decode.geneve.truncated': 1 });

  let nested: Buffer = v4();
  for (let i = 0; i < 4; i++) nested = ipv4({ src: C, dst: S, proto: 4, payload: nested });
  assert.deepEqual(counted(() => assert.equal(run(nested, 228), DECODE_FAILED)), { 'decode.tunnel.too_deep': 1 });
  assert.equal(setup({ maxTunnelDepth: 4 }).run(nested, 228), DECODE_TCP);
  assert.equal(view.ipVersion, 4);

  const s = dec.stats.snapshot();
  assert.equal(s.notDecoded['gre version 1 (PPTP)'], 1);
  assert.equal(s.notDecoded['erspan version 2 frame type 2'], 1);
  assert.equal(s.notDecoded['mpls payload nibble 9'], 1);
});

test('with tunnels off, encapsulations are listed as not decoded and the outer packet is reported', (t) => {
  const { run, view, dec } = setup({ tunnels: false });
  const inner = ether(0x0800, v4());
  assert.equal(run(ether(0x0800, ipv4({ src: C, dst: S, proto: 47, payload: Buffer.concat([Buffer.from([0, 0, 0x65, 0x58]), inner]) }))), DECODE_OTHER_IP);
  assert.equal(view.protocol, 47);
  assert.equal(run(ether(0x0800, ipv4({ src: C, dst: S, proto: 17, payload: udp(5, 4789, Buffer.concat([Buffer.from([8, 0, 0, 0, 0, 0, 1, 0]), inner])) }))), DECODE_OTHER_IP);
  assert.equal(view.dstPort, 4789);
  assert.equal(run(ether(0x8847, Buffer.concat([Buffer.from([0, 0, 0x11, 64]), v4()]))), DECODE_NOT_IP);
  assert.equal(run(ether(0x0800, ipv4({ src: C, dst: S, proto: 41, payload: Buffer.alloc(40) }))), DECODE_OTHER_IP);
  const nd = dec.stats.snapshot().notDecoded;
  assert.deepEqual(nd, {
    'ethertype 0x8847 (MPLS)': 1,
    'gre (tunnels off)': 1,
    'ip protocol 41 (tunnels off)': 1,
    'vxlan (tunnels off)': 1,
  });
  t.diagnostic(`not decoded with tunnels off: ${JSON.stringify(nd)}`);
});

test('a frame inside a larger buffer: offset and caplen are honoured, never read past', () => {
  const { dec, view } = setup();
  const frame = ether(0x0800, v4(seg(filler(10))));
  const data = Buffer.concat([Buffer.alloc(5, 0xff), frame, Buffer.alloc(100, 0x45)]);
  const rec = record(1, data);
  rec.offset = 5;
  rec.caplen = frame.length;
  rec.wirelen = frame.length;
  assert.equal(dec.decode(rec, view), DECODE_TCP);
  assert.equal(view.payloadOffset, 5 + 14 + 20 + 20);
  assert.equal(view.payloadLength, 10);
  rec.caplen = 10_000; // a reader bug: caplen past the buffer
  assert.doesNotThrow(() => dec.decode(rec, view));
});
