/**
 * Linux "cooked" captures (`tcpdump -i any`).
 *
 * LINKTYPE_LINUX_SLL (113), 16 bytes:
 *   packet type (2) | ARPHRD type (2) | address length (2) | address (8) | protocol (2)
 * LINKTYPE_LINUX_SLL2 (276), 20 bytes:
 *   protocol (2) | reserved (2) | interface index (4) | ARPHRD type (2) |
 *   packet type (1) | address length (1) | address (8)
 *
 * The protocol is an ethertype, except: values below 0x0600 name a non-IP
 * framing (1 = Novell 802.3, 4 = 802.2 LLC, 0x0c = CAN, …); with ARPHRD_NETLINK
 * (824) it is a netlink family; with ARPHRD_IPGRE (778) it is a GRE protocol
 * type, which is ethertype space too.
 */
import { defineAnomaly } from '../shared/anomalies.js';
import type { DecodeContext } from './context.js';
import { dispatchEtherType, notIp, u16 } from './dispatch.js';
import { DECODE_FAILED } from './results.js';
import { ND_SLL_HATYPE, ND_SLL_PROTOCOL } from './stats.js';

const A_SLL_TRUNCATED = defineAnomaly('decode.sll.truncated', 'frame shorter than the 16-byte Linux SLL header');
const A_SLL2_TRUNCATED = defineAnomaly('decode.sll2.truncated', 'frame shorter than the 20-byte Linux SLL2 header');

const ARPHRD_NETLINK = 824;

export function decodeSll(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (end - off < 16) {
    c.counters.inc(A_SLL_TRUNCATED);
    return DECODE_FAILED;
  }
  return cooked(c, u16(buf, off + 2), u16(buf, off + 14), buf, off + 16, end);
}

export function decodeSll2(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (end - off < 20) {
    c.counters.inc(A_SLL2_TRUNCATED);
    return DECODE_FAILED;
  }
  return cooked(c, u16(buf, off + 8), u16(buf, off), buf, off + 20, end);
}

function cooked(c: DecodeContext, hatype: number, proto: number, buf: Buffer, off: number, end: number): number {
  if (hatype === ARPHRD_NETLINK) return notIp(c, ND_SLL_HATYPE, hatype);
  if (proto < 0x0600) return notIp(c, ND_SLL_PROTOCOL, proto);
  return dispatchEtherType(c, proto, buf, off, end);
}
