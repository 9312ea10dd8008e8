/**
 * Micro-benchmark of `Decoder.decode` on typical frames, in a tight loop.
 *
 *   npx tsx bench/decode-micro.ts [iterations-per-round] [rounds]
 *
 * Prints ns/packet per frame kind: the best and the median round (the best
 * is what the code costs, the median what a busy machine gave). The first
 * line (Ethernet/IPv4/TCP data segment with timestamps, 1448 payload bytes)
 * is the figure the target (< 150 ns) is about.
 */
import { PacketRecord } from '../src/capture/types.js';
import { AnomalyCounters } from '../src/shared/anomalies.js';
import { DECODE_FAILED, Decoder, PacketView } from '../src/decode/index.js';
import { ACK, PSH, SYN, ether, filler, ipv4, ipv6, opt, tcp, tcpOptions } from '../scripts/craft-pcaps.js';

const iterations = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 7);

const data = tcp({
  sport: 51000, dport: 443, seq: 0xf0000002, ack: 0x12345679, flags: PSH | ACK, window: 502,
  options: tcpOptions(opt.nop(), opt.nop(), opt.ts(0xfedcbb00, 0x01020304)),
  payload: filler(1448),
});
const syn = tcp({
  sport: 51000, dport: 443, seq: 1, flags: SYN,
  options: tcpOptions(opt.mss(1460), opt.sackPerm(), opt.ts(1, 0), opt.nop(), opt.ws(7)),
});
const v4 = (p: Buffer) => ipv4({ src: '192.0.2.10', dst: '198.51.100.20', proto: 6, payload: p });

const cases: [string, number, Buffer][] = [
  ['ethernet/ipv4/tcp data 1448 B + TS', 1, ether(0x0800, v4(data))],
  ['ethernet/ipv4/tcp SYN, all options', 1, ether(0x0800, v4(syn))],
  ['ethernet/802.1Q/ipv4/tcp data', 1, ether(0x0800, v4(data), [[0x8100, 10]])],
  ['ethernet/ipv6/tcp data', 1, ether(0x86dd, ipv6({ src: '2001:db8::10', dst: '2001:db8::20', proto: 6, payload: data }))],
  ['linux sll2/ipv4/tcp data', 276, Buffer.concat([Buffer.from('08000000000000020001000602000000000a0000', 'hex'), v4(data)])],
];

function bench(name: string, linkType: number, frame: Buffer): void {
  // Frames sit in a larger buffer, as a capture reader hands them over.
  const buf = Buffer.concat([Buffer.alloc(40), frame, Buffer.alloc(16)]);
  const rec = new PacketRecord();
  rec.linkType = linkType;
  rec.data = buf;
  rec.offset = 40;
  rec.caplen = rec.wirelen = frame.length;
  const dec = new Decoder(new AnomalyCounters());
  const view = new PacketView();
  let sink = 0;
  for (let i = 0; i < 200_000; i++) sink += dec.decode(rec, view); // warm-up
  const per: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) {
      rec.tsMicros = i;
      sink += dec.decode(rec, view) + view.payloadLength;
    }
    per.push(Number(process.hrtime.bigint() - t0) / iterations);
  }
  if (dec.decode(rec, view) === DECODE_FAILED) throw new Error(`${name}: decode failed`);
  per.sort((a, b) => a - b);
  const best = per[0];
  const median = per[per.length >> 1];
  console.log(
    `${name.padEnd(38)} best ${best.toFixed(1).padStart(6)} ns/packet (${(1000 / best).toFixed(1)} Mpkt/s), median ${median.toFixed(1).padStart(6)} ns${sink < 0 ? '!' : ''}`,
  );
}

console.log(`node ${process.version}, ${rounds} rounds of ${iterations} decodes per case`);
for (const [name, lt, frame] of cases) bench(name, lt, frame);
