/**
 * Which decoder handles which number: the dispatch tables, filled once when
 * a Decoder is configured (as Zeek's `packet-protocols/*.zeek` register
 * ethertype 0x0800 → IP). Layers only look numbers up; adding a layer is a
 * line here.
 */
import type { DecodeContext, DispatchTable, LayerDecoder, ResolvedOptions } from './context.js';
import { otherIp } from './dispatch.js';
import { decodeEthernet, decodeVlan } from './ethernet.js';
import { decodeGeneve, GENEVE_PORT } from './geneve.js';
import { decodeGre } from './gre.js';
import { decodeIcmp, decodeIcmpv6 } from './icmp.js';
import { decodeIpInIpv4, decodeIpv6InIp } from './ip-in-ip.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';
import { decodeMpls } from './mpls.js';
import { decodeLoop, decodeNull } from './null.js';
import { decodePpp } from './ppp.js';
import { decodePppoeSession } from './pppoe.js';
import { decodeRawIp } from './raw.js';
import { NOT_THIS_TUNNEL } from './results.js';
import { decodeSll, decodeSll2 } from './sll.js';
import { LINKTYPE_TABLE_SIZE, ND_TUNNEL_OFF, TUNNEL_OFF_UDP, countKey } from './stats.js';
import { decodeTcp } from './tcp.js';
import { decodeUdp } from './udp.js';
import { decodeVxlan, decodeVxlanGpe, VXLAN_GPE_PORT, VXLAN_PORT } from './vxlan.js';

export interface Tables {
  link: DispatchTable;
  ether: DispatchTable;
  ipProto: DispatchTable;
  udpPort: DispatchTable;
}

function table(size: number): DispatchTable {
  return new Array<LayerDecoder | null>(size).fill(null);
}

export function buildTables(opts: ResolvedOptions): Tables {
  const link = table(LINKTYPE_TABLE_SIZE);
  link[0] = decodeNull; // LINKTYPE_NULL
  link[1] = decodeEthernet; // LINKTYPE_ETHERNET
  link[9] = decodePpp; // LINKTYPE_PPP
  link[12] = decodeRawIp; // DLT_RAW as written by most BSDs
  link[14] = decodeRawIp; // DLT_RAW as written by OpenBSD
  link[50] = decodePpp; // LINKTYPE_PPP_HDLC
  link[101] = decodeRawIp; // LINKTYPE_RAW
  link[108] = decodeLoop; // LINKTYPE_LOOP
  link[113] = decodeSll; // LINKTYPE_LINUX_SLL
  link[228] = decodeIpv4; // LINKTYPE_IPV4
  link[229] = decodeIpv6; // LINKTYPE_IPV6
  link[276] = decodeSll2; // LINKTYPE_LINUX_SLL2

  const ether = table(0x10000);
  ether[0x0800] = decodeIpv4;
  ether[0x86dd] = decodeIpv6;
  ether[0x8100] = decodeVlan; // 802.1Q
  ether[0x88a8] = decodeVlan; // 802.1ad (QinQ outer tag)
  ether[0x9100] = decodeVlan; // pre-standard QinQ

  const ipProto = table(256);
  ipProto[1] = decodeIcmp;
  ipProto[6] = decodeTcp;
  ipProto[17] = decodeUdp;
  ipProto[58] = decodeIcmpv6;

  const udpPort = table(0x10000);

  if (opts.tunnels) {
    ether[0x8847] = decodeMpls;
    ether[0x8864] = decodePppoeSession;
    ipProto[4] = decodeIpInIpv4;
    ipProto[41] = decodeIpv6InIp;
    ipProto[47] = decodeGre;
    udpPort[VXLAN_PORT] = decodeVxlan;
    udpPort[VXLAN_GPE_PORT] = decodeVxlanGpe;
    udpPort[GENEVE_PORT] = decodeGeneve;
  } else {
    // Listed as not decoded (ethertypes 0x8847 and 0x8864 already are, being absent).
    ipProto[4] = ipProto[41] = ipProto[47] = ipTunnelOff;
    udpPort[VXLAN_PORT] = udpPort[VXLAN_GPE_PORT] = udpPort[GENEVE_PORT] = udpTunnelOff;
  }
  return { link, ether, ipProto, udpPort };
}

function ipTunnelOff(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  c.stats.otherIpProtocols[c.view.protocol]++;
  countKey(c.stats.notDecoded, ND_TUNNEL_OFF, c.view.protocol);
  return otherIp(c, buf, off, end);
}

function udpTunnelOff(c: DecodeContext): number {
  countKey(c.stats.notDecoded, ND_TUNNEL_OFF, TUNNEL_OFF_UDP | c.view.dstPort);
  return NOT_THIS_TUNNEL;
}
