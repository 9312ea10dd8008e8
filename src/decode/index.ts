/**
 * Public face of the decode stage: `Decoder` turns a captured frame
 * (`PacketRecord`) into the facts of a reusable `PacketView`.
 */
export { Decoder } from './decoder.js';
export type { DecoderOptions, ResolvedOptions } from './context.js';
export {
  DECODE_FAILED,
  DECODE_TCP,
  DECODE_OTHER_IP,
  DECODE_NOT_IP,
  DECODE_HELD,
  type DecodeResult,
} from './results.js';
export { DecodeStats, type DecodeStatsSnapshot } from './stats.js';
export { PacketView, TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK, TCP_URG, IPPROTO_TCP, IPPROTO_UDP } from './packet-view.js';
