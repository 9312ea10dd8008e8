/**
 * What `Decoder.decode` returns. Plain small integers so the caller's switch
 * stays monomorphic; `DECODE_FAILED` is 0 so `if (!r)` reads as "failed".
 */

/** An anomaly was counted; the view holds whatever was decoded before it. */
export const DECODE_FAILED = 0;
/** IP + TCP decoded: addresses, ports, seq/ack, flags, options and payload are in the view. */
export const DECODE_TCP = 1;
/** IP decoded, not TCP (UDP, ICMP, ESP, …): addresses, protocol and the L4 payload are in the view. */
export const DECODE_OTHER_IP = 2;
/** Not IP (ARP, LLDP, STP, an ethertype not decoded): counted in stats, not an anomaly. */
export const DECODE_NOT_IP = 3;
/** An IP fragment was buffered for reassembly; nothing to deliver yet. */
export const DECODE_HELD = 4;

export type DecodeResult =
  | typeof DECODE_FAILED
  | typeof DECODE_TCP
  | typeof DECODE_OTHER_IP
  | typeof DECODE_NOT_IP
  | typeof DECODE_HELD;

/**
 * Internal: a tunnel decoder reached through a UDP port says "this is not my
 * header" so the packet stays plain UDP. Never returned by `Decoder.decode`.
 */
export const NOT_THIS_TUNNEL = -1;
