/**
 * The decoded facts of one frame, filled in place by the layer decoders.
 * One instance is reused for every packet: fields are plain numbers so V8 keeps
 * the object's shape stable; nothing here allocates per packet.
 *
 * Addresses are four 32-bit words each (network order, big-endian words): IPv4
 * uses word 0 only and leaves words 1..3 zero, so one flow key covers both
 * families. `ipVersion` tells them apart.
 */
export class PacketView {
  tsMicros = 0;

  // --- layer 3 -----------------------------------------------------------
  /** 4 or 6; 0 when no IP layer was decoded. */
  ipVersion = 0;
  src0 = 0; src1 = 0; src2 = 0; src3 = 0;
  dst0 = 0; dst1 = 0; dst2 = 0; dst3 = 0;
  /** IP protocol / IPv6 final next-header (6 = TCP, 17 = UDP, ...). */
  protocol = 0;
  /** Bytes of the IP packet as sent (header + payload; the whole datagram after fragment reassembly). */
  ipBytes = 0;
  ttl = 0;
  /** Count of VLAN tags seen (802.1Q/802.1ad). */
  vlanDepth = 0;
  /** Outer VLAN id (0 when untagged). */
  vlanId = 0;

  // --- TCP ---------------------------------------------------------------
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  /** TCP flag bits: FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80. */
  tcpFlags = 0;
  window = 0;
  /** Options; -1 when absent. */
  mss = -1;
  windowScale = -1;
  sackPermitted = false;
  tsVal = -1;
  tsEcr = -1;

  // --- payload (TCP payload for TCP, L4 payload otherwise) -----------------
  /** Buffer holding the payload: the frame itself, or a reassembled datagram. */
  payload: Buffer = EMPTY;
  payloadOffset = 0;
  /** Payload bytes present in the capture. */
  payloadLength = 0;
  /** Payload bytes the IP header claims (> payloadLength when the snap length cut the frame). */
  payloadWireLength = 0;

  reset(): void {
    this.ipVersion = 0;
    this.src0 = this.src1 = this.src2 = this.src3 = 0;
    this.dst0 = this.dst1 = this.dst2 = this.dst3 = 0;
    this.protocol = 0;
    this.ipBytes = 0;
    this.ttl = 0;
    this.vlanDepth = 0;
    this.vlanId = 0;
    this.srcPort = this.dstPort = 0;
    this.seq = this.ack = 0;
    this.tcpFlags = 0;
    this.window = 0;
    this.mss = -1;
    this.windowScale = -1;
    this.sackPermitted = false;
    this.tsVal = this.tsEcr = -1;
    this.payload = EMPTY;
    this.payloadOffset = 0;
    this.payloadLength = 0;
    this.payloadWireLength = 0;
  }
}

const EMPTY = Buffer.alloc(0);

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
