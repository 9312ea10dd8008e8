import {
  ETHERTYPE_NAMES,
  IP_PROTOCOL_NAMES,
  LINKTYPE_NAMES,
  PPP_PROTOCOL_NAMES,
  SLL_PROTOCOL_NAMES,
  hex4,
} from './names.js';

/** Link types below this index are counted in an array; the rest only as "not decoded". */
export const LINKTYPE_TABLE_SIZE = 512;

/**
 * Kinds of "seen but not decoded" keys. A key is `kind * 0x10000 + value`
 * (value clamped to 16 bits) so counting one is a Map update on a small
 * integer, with no string built per packet; names are made in `snapshot()`.
 */
export const ND_LINKTYPE = 1;
export const ND_ETHERTYPE = 2;
export const ND_SLL_PROTOCOL = 3;
export const ND_NULL_FAMILY = 4;
export const ND_GRE = 5; // value: GRE version (0 = routing present)
export const ND_PPP_PROTOCOL = 6;
export const ND_ERSPAN = 7; // value: ERSPAN version * 0x100 + frame type
export const ND_LLC = 8; // 802.3 frame with an LLC header
export const ND_SLL_HATYPE = 9; // ARPHRD type without ethertype semantics (netlink)
export const ND_TUNNEL_OFF = 10; // tunnels disabled: value is an IP protocol, or TUNNEL_OFF_UDP | UDP port
export const ND_MPLS_PAYLOAD = 11;
export const ND_VXLAN_GPE = 12; // VXLAN-GPE next protocol

/** `ND_TUNNEL_OFF` values: IP protocols as is, UDP ports tagged. */
export const TUNNEL_OFF_UDP = 0x8000;

/**
 * Plain counts kept by the decoder (not anomalies: nothing here is wrong with
 * the traffic). Layers counted as decoded: a VXLAN packet counts in ipv4 twice
 * (outer and inner), in udp once, in tcp once.
 */
export class DecodeStats {
  packets = 0;
  /** Packets per link type (index = LINKTYPE_* value). */
  readonly linkTypes = new Float64Array(LINKTYPE_TABLE_SIZE);
  ipv4 = 0;
  ipv6 = 0;
  tcp = 0;
  udp = 0;
  icmp = 0;
  icmpv6 = 0;
  /** IP packets whose protocol has no decoder here, by protocol number. */
  readonly otherIpProtocols = new Float64Array(256);
  /** Frames that were not IP (ARP, LLDP, LLC, …), also listed by type in `notIpTypes`. */
  notIp = 0;
  /** Non-IP frames of known kinds (ARP, LLDP, …) by key (see ND_*). */
  readonly notIpTypes = new Map<number, number>();
  /** Frames with at least one 802.1Q/802.1ad tag. */
  vlanTagged = 0;
  /** IP packets whose payload was cut by the capture's snap length (no anomaly). */
  snapTruncated = 0;
  /** IP packets with a length field of 0, taken as segmentation offload: their length is the frame's. */
  zeroLengthTso = 0;
  readonly fragments = {
    /** IP fragments seen. */
    received: 0,
    /** Fragments buffered with nothing to deliver yet (DECODE_HELD). */
    held: 0,
    /** Datagrams completed and decoded. */
    reassembled: 0,
    /** Datagrams dropped incomplete by the timeout. */
    timedOut: 0,
    /** Datagrams dropped to keep within the memory cap or the datagram limit. */
    evicted: 0,
  };
  readonly tunnels = {
    gre: 0,
    erspan: 0,
    vxlan: 0,
    geneve: 0,
    mpls: 0,
    pppoe: 0,
    ipInIp: 0,
  };
  /** Link types and encapsulations seen but not decoded, by key (see ND_*). */
  readonly notDecoded = new Map<number, number>();

  /** `JSON.stringify(stats)` gives the readable snapshot. */
  toJSON(): DecodeStatsSnapshot {
    return this.snapshot();
  }

  /** Plain JSON object with readable keys, for printing. */
  snapshot(): DecodeStatsSnapshot {
    const linkTypes: Record<string, number> = {};
    for (let i = 0; i < LINKTYPE_TABLE_SIZE; i++) {
      if (this.linkTypes[i] !== 0) linkTypes[linkTypeLabel(i)] = this.linkTypes[i];
    }
    const otherIpProtocols: Record<string, number> = {};
    for (let i = 0; i < 256; i++) {
      if (this.otherIpProtocols[i] !== 0) {
        const n = IP_PROTOCOL_NAMES[i];
        otherIpProtocols[n ? `${i} (${n})` : String(i)] = this.otherIpProtocols[i];
      }
    }
    return {
      packets: this.packets,
      linkTypes,
      ipv4: this.ipv4,
      ipv6: this.ipv6,
      tcp: this.tcp,
      udp: this.udp,
      icmp: this.icmp,
      icmpv6: this.icmpv6,
      otherIpProtocols,
      notIp: this.notIp,
      notIpTypes: labelMap(this.notIpTypes),
      vlanTagged: this.vlanTagged,
      snapTruncated: this.snapTruncated,
      zeroLengthTso: this.zeroLengthTso,
      fragments: { ...this.fragments },
      tunnels: { ...this.tunnels },
      notDecoded: labelMap(this.notDecoded),
    };
  }
}

export interface DecodeStatsSnapshot {
  packets: number;
  linkTypes: Record<string, number>;
  ipv4: number;
  ipv6: number;
  tcp: number;
  udp: number;
  icmp: number;
  icmpv6: number;
  otherIpProtocols: Record<string, number>;
  notIp: number;
  notIpTypes: Record<string, number>;
  vlanTagged: number;
  snapTruncated: number;
  zeroLengthTso: number;
  fragments: DecodeStats['fragments'];
  tunnels: DecodeStats['tunnels'];
  notDecoded: Record<string, number>;
}

/** Distinct keys one map keeps; past it new keys are counted together (hostile input can make up many values). */
export const MAX_KEYS = 256;
const KEY_OVERFLOW = 0;

export function countKey(map: Map<number, number>, kind: number, value: number): void {
  let key = kind * 0x10000 + (value > 0xffff || value < 0 ? 0xffff : value);
  let n = map.get(key);
  if (n === undefined && map.size >= MAX_KEYS) {
    key = KEY_OVERFLOW;
    n = map.get(key);
  }
  map.set(key, (n ?? 0) + 1);
}

function linkTypeLabel(lt: number): string {
  const n = LINKTYPE_NAMES[lt];
  return n ? `linktype ${lt} (${n})` : `linktype ${lt}`;
}

function named(prefix: string, v: number, names: Readonly<Record<number, string>>): string {
  const n = names[v];
  return n ? `${prefix} ${hex4(v)} (${n})` : `${prefix} ${hex4(v)}`;
}

/** Readable name of a not-decoded / not-IP key. */
export function keyLabel(key: number): string {
  const kind = Math.floor(key / 0x10000);
  const v = key % 0x10000;
  switch (kind) {
    case ND_LINKTYPE:
      return v === 0xffff ? 'linktype >= 65535' : linkTypeLabel(v);
    case ND_ETHERTYPE:
      return named('ethertype', v, ETHERTYPE_NAMES);
    case ND_SLL_PROTOCOL:
      return named('sll protocol', v, SLL_PROTOCOL_NAMES);
    case ND_NULL_FAMILY:
      return v === 0xffff ? 'null family >= 65535' : `null family ${v}`;
    case ND_GRE:
      return v === 0 ? 'gre with routing (RFC 1701)' : v === 1 ? 'gre version 1 (PPTP)' : `gre version ${v}`;
    case ND_PPP_PROTOCOL:
      return named('ppp protocol', v, PPP_PROTOCOL_NAMES);
    case ND_ERSPAN:
      return `erspan version ${v >> 8} frame type ${v & 0xff}`;
    case ND_LLC:
      return '802.3 llc';
    case ND_SLL_HATYPE:
      return v === 824 ? 'sll netlink' : `sll hatype ${v}`;
    case ND_TUNNEL_OFF:
      if (v & TUNNEL_OFF_UDP) {
        const port = v & 0x7fff;
        const name = port === 4789 ? 'vxlan' : port === 4790 ? 'vxlan-gpe' : port === 6081 ? 'geneve' : `udp port ${port}`;
        return `${name} (tunnels off)`;
      }
      return v === 47 ? 'gre (tunnels off)' : `ip protocol ${v} (tunnels off)`;
    case ND_MPLS_PAYLOAD:
      return `mpls payload nibble ${v}`;
    case ND_VXLAN_GPE:
      return v === 4 ? 'vxlan-gpe next protocol 4 (NSH)' : `vxlan-gpe next protocol ${v}`;
    case 0:
      return `other (more than ${MAX_KEYS} distinct kinds)`;
    default:
      return `kind ${kind} value ${v}`;
  }
}

function labelMap(m: Map<number, number>): Record<string, number> {
  const entries = [...m].map(([k, n]) => [keyLabel(k), n] as const);
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: Record<string, number> = {};
  for (const [k, n] of entries) out[k] = (out[k] ?? 0) + n;
  return out;
}
