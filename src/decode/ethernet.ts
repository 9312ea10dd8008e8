/**
 * Ethernet II (LINKTYPE_ETHERNET) and 802.1Q / 802.1ad VLAN tags.
 *
 *   dst MAC (6) | src MAC (6) | ethertype (2)          — 14 bytes
 *   VLAN tag: TCI (2: PCP 3, DEI 1, VID 12) | ethertype (2)
 *
 * Tags stack (QinQ: 0x88a8 outer, 0x8100 inner; 0x9100 on older gear); the
 * depth is capped. Trailing padding of short frames is left to the IP layer,
 * whose length field says where the packet ends.
 */
import { defineAnomaly } from '../shared/anomalies.js';
import type { DecodeContext } from './context.js';
import { dispatchEtherType, u16 } from './dispatch.js';
import { DECODE_FAILED } from './results.js';

const A_ETH_TRUNCATED = defineAnomaly('decode.ethernet.truncated', 'frame shorter than the 14-byte Ethernet header');
const A_VLAN_TRUNCATED = defineAnomaly('decode.vlan.truncated', 'frame ends inside an 802.1Q/802.1ad tag');
const A_VLAN_TOO_MANY = defineAnomaly(
  'decode.vlan.too_many_layers',
  'more stacked VLAN tags than the configured maximum',
);

export const ETHERNET_HEADER = 14;
export const VLAN_TAG = 4;

export function decodeEthernet(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (end - off < ETHERNET_HEADER) {
    c.counters.inc(A_ETH_TRUNCATED);
    return DECODE_FAILED;
  }
  return dispatchEtherType(c, u16(buf, off + 12), buf, off + ETHERNET_HEADER, end);
}

/** Registered for 0x8100, 0x88a8 and 0x9100: one tag, then the next ethertype. */
export function decodeVlan(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  const v = c.view;
  if (v.vlanDepth >= c.opts.maxVlanDepth) {
    c.counters.inc(A_VLAN_TOO_MANY);
    return DECODE_FAILED;
  }
  if (end - off < VLAN_TAG) {
    c.counters.inc(A_VLAN_TRUNCATED);
    return DECODE_FAILED;
  }
  if (v.vlanDepth === 0) {
    v.vlanId = u16(buf, off) & 0x0fff;
    c.stats.vlanTagged++;
  }
  v.vlanDepth++;
  return dispatchEtherType(c, u16(buf, off + 2), buf, off + VLAN_TAG, end);
}
