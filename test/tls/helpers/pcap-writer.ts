/**
 * Write a conversation as a classic pcap (Ethernet/IPv4/TCP, handshake
 * included) so that tshark can decode it and compute JA3/JA3S for comparison.
 */
import type { Direction } from '../../../src/flow/stream-parser.js';

function ipChecksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i] << 8) | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function frame(src: number, dst: number, sport: number, dport: number, seq: number, ack: number, flags: number, payload: Buffer): Buffer {
  const eth = Buffer.alloc(14);
  eth.writeUInt16BE(0x0800, 12);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 20 + payload.length, 2);
  ip[8] = 64;
  ip[9] = 6;
  ip.writeUInt32BE(src, 12);
  ip.writeUInt32BE(dst, 16);
  ip.writeUInt16BE(ipChecksum(ip), 10);
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(sport, 0);
  tcp.writeUInt16BE(dport, 2);
  tcp.writeUInt32BE(seq >>> 0, 4);
  tcp.writeUInt32BE(ack >>> 0, 8);
  tcp[12] = 5 << 4;
  tcp[13] = flags;
  tcp.writeUInt16BE(65535, 14);
  return Buffer.concat([eth, ip, tcp, payload]);
}

/** A pcap of one TCP connection carrying `chunks`, split into segments of at most `mss` bytes. */
export function conversationPcap(
  chunks: readonly (readonly [Direction, Buffer])[],
  opts: { clientPort?: number; serverPort?: number; mss?: number } = {},
): Buffer {
  const cip = 0x0a000001;
  const sip = 0x0a000002;
  const cport = opts.clientPort ?? 50000;
  const sport = opts.serverPort ?? 443;
  const mss = opts.mss ?? 1400;
  let cseq = 1000;
  let sseq = 5000;
  const frames: Buffer[] = [];
  frames.push(frame(cip, sip, cport, sport, cseq, 0, 0x02, Buffer.alloc(0)));
  frames.push(frame(sip, cip, sport, cport, sseq, cseq + 1, 0x12, Buffer.alloc(0)));
  cseq++;
  sseq++;
  frames.push(frame(cip, sip, cport, sport, cseq, sseq, 0x10, Buffer.alloc(0)));
  for (const [dir, data] of chunks) {
    for (let p = 0; p < data.length; p += mss) {
      const seg = data.subarray(p, Math.min(data.length, p + mss));
      if (dir === 0) {
        frames.push(frame(cip, sip, cport, sport, cseq, sseq, 0x18, seg));
        cseq += seg.length;
      } else {
        frames.push(frame(sip, cip, sport, cport, sseq, cseq, 0x18, seg));
        sseq += seg.length;
      }
    }
  }
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(1, 20);
  const recs: Buffer[] = [header];
  frames.forEach((f, i) => {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(1700000000 + i, 0);
    h.writeUInt32LE(f.length, 8);
    h.writeUInt32LE(f.length, 12);
    recs.push(h, f);
  });
  return Buffer.concat(recs);
}
