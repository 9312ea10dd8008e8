/**
 * The event schema: everything a SIEM sees, in one module.
 *
 * ECS field names where ECS has them (https://www.elastic.co/guide/en/ecs/current/),
 * everything else under `tlsentry.*`. Each stage produces plain facts; the
 * builders here turn them into events, so a field is named in exactly one place.
 */
import { addressText, communityIdV1, addressBytes, flowId, type Flow } from '../flow/index.js';

export const SCHEMA_VERSION = '1';

export interface EcsEndpoint {
  ip: string;
  port: number;
  /** IP bytes sent by this side (headers included, as ECS defines). */
  bytes: number;
  packets: number;
}

export interface FlowFields {
  id: string;
  /** TCP payload bytes the client sent, from sequence numbers (a retransmitted byte counts once). */
  source_payload_bytes: number;
  destination_payload_bytes: number;
  /** Bytes inside the streams that the capture never saw (both directions). */
  missed_bytes: number;
  /** Zeek conn.log history letters: upper case for the client. */
  history: string;
  /** Producer-consumer ratio of payload bytes, -1 (download) … +1 (upload). */
  pcr: number;
  /** Seconds from first to last packet. */
  duration: number;
  end_reason: string;
  /** How the client side was decided: syn, syn_ack, tls_client_hello, tls_server_hello, port. */
  client_by: string;
  source_retransmits: number;
  destination_retransmits: number;
}

export interface FlowEvent {
  '@timestamp': string;
  event: {
    kind: 'event';
    category: ['network'];
    type: ['connection', 'end'];
    dataset: 'tlsentry.flow';
    module: 'tlsentry';
    start: string;
    end: string;
    /** Nanoseconds (ECS). */
    duration: number;
  };
  source: EcsEndpoint;
  destination: EcsEndpoint;
  network: {
    transport: 'tcp';
    type: 'ipv4' | 'ipv6';
    iana_number: '6';
    community_id: string;
    bytes: number;
    packets: number;
    vlan?: { id: string };
  };
  tlsentry: {
    schema_version: string;
    flow: FlowFields;
  };
}

export function isoTime(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const iso = new Date(ms).toISOString(); // 2024-01-02T03:04:05.678Z
  const us = Math.floor(micros - ms * 1000);
  return `${iso.slice(0, 23)}${String(us).padStart(3, '0')}Z`;
}

/** The flow event for a finished flow. */
export function buildFlowEvent(f: Flow): FlowEvent {
  const cIp = addressText(f.ipVersion, f.c0, f.c1, f.c2, f.c3);
  const sIp = addressText(f.ipVersion, f.s0, f.s1, f.s2, f.s3);
  const community = communityIdV1(
    6,
    addressBytes(f.ipVersion, f.c0, f.c1, f.c2, f.c3),
    f.cPort,
    addressBytes(f.ipVersion, f.s0, f.s1, f.s2, f.s3),
    f.sPort,
  );
  const up = f.toServer, down = f.toClient;
  const durationMicros = f.lastTs - f.firstTs;
  const start = isoTime(f.firstTs);
  const ev: FlowEvent = {
    '@timestamp': start,
    event: {
      kind: 'event',
      category: ['network'],
      type: ['connection', 'end'],
      dataset: 'tlsentry.flow',
      module: 'tlsentry',
      start,
      end: isoTime(f.lastTs),
      duration: durationMicros * 1000,
    },
    source: { ip: cIp, port: f.cPort, bytes: up.ipBytes, packets: up.packets },
    destination: { ip: sIp, port: f.sPort, bytes: down.ipBytes, packets: down.packets },
    network: {
      transport: 'tcp',
      type: f.ipVersion === 6 ? 'ipv6' : 'ipv4',
      iana_number: '6',
      community_id: community,
      bytes: up.ipBytes + down.ipBytes,
      packets: up.packets + down.packets,
    },
    tlsentry: {
      schema_version: SCHEMA_VERSION,
      flow: {
        id: flowId(f),
        source_payload_bytes: up.maxRel,
        destination_payload_bytes: down.maxRel,
        missed_bytes: up.missed + down.missed,
        history: f.history,
        pcr: f.pcr(),
        duration: durationMicros / 1e6,
        end_reason: f.endReason,
        client_by: f.clientBy,
        source_retransmits: up.retransmits,
        destination_retransmits: down.retransmits,
      },
    },
  };
  if (f.vlanId !== 0) ev.network.vlan = { id: String(f.vlanId) };
  return ev;
}
