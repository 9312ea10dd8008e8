import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { PacketRecord } from '../../src/capture/types.js';
import type { AnomalyCounters } from '../../src/shared/anomalies.js';
import type { PacketView } from '../../src/decode/index.js';
import { addressText } from '../../src/flow/address.js';
import type { CraftedFrame, Expect } from '../../scripts/craft-pcaps.js';

export function record(linkType: number, data: Buffer, wirelen = data.length, tsMicros = 0): PacketRecord {
  const r = new PacketRecord();
  r.linkType = linkType;
  r.data = data;
  r.offset = 0;
  r.caplen = data.length;
  r.wirelen = wirelen;
  r.tsMicros = tsMicros;
  return r;
}

/** A record whose frame sits inside a larger buffer, as a capture reader hands it over. */
export function recordIn(linkType: number, frame: Buffer, wirelen = frame.length, tsMicros = 0): PacketRecord {
  const pre = 37;
  const data = Buffer.concat([Buffer.alloc(pre, 0xee), frame, Buffer.alloc(23, 0xdd)]);
  const r = record(linkType, data, wirelen, tsMicros);
  r.offset = pre;
  r.caplen = frame.length;
  return r;
}

/** The view's address as text (dotted quad, or RFC 5952 IPv6 as tshark prints it). */
export function addrText(v: PacketView, which: 'src' | 'dst'): string {
  return which === 'src'
    ? addressText(v.ipVersion, v.src0, v.src1, v.src2, v.src3)
    : addressText(v.ipVersion, v.dst0, v.dst1, v.dst2, v.dst3);
}

/** True when `name` is an executable on the PATH. */
export function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const SCALAR_FIELDS = [
  'ipVersion', 'protocol', 'ttl', 'ipBytes', 'vlanDepth', 'vlanId', 'srcPort', 'dstPort', 'seq', 'ack',
  'tcpFlags', 'window', 'mss', 'windowScale', 'sackPermitted', 'tsVal', 'tsEcr', 'payloadLength', 'payloadWireLength',
] as const;

/** Asserts the decode of one crafted frame: result, every field the expectation names, anomalies. */
export function assertExpect(
  label: string,
  result: number,
  v: PacketView,
  e: Expect,
  anomaliesBefore: Record<string, number>,
  counters: AnomalyCounters,
): void {
  assert.equal(result, e.result, `${label}: result`);
  for (const f of SCALAR_FIELDS) {
    if (e[f] !== undefined) assert.equal(v[f], e[f], `${label}: ${f}`);
  }
  if (e.src !== undefined) assert.equal(addrText(v, 'src'), e.src, `${label}: src`);
  if (e.dst !== undefined) assert.equal(addrText(v, 'dst'), e.dst, `${label}: dst`);
  if (e.payloadHex !== undefined) {
    assert.equal(
      v.payload.subarray(v.payloadOffset, v.payloadOffset + v.payloadLength).toString('hex'),
      e.payloadHex,
      `${label}: payload bytes`,
    );
  }
  for (const f of ['seq', 'ack', 'tsVal', 'tsEcr', 'src0', 'dst0', 'src3', 'dst3'] as const) {
    assert.ok(v[f] >= -1 && v[f] <= 0xffffffff && Number.isInteger(v[f]), `${label}: ${f} is an unsigned 32-bit number`);
  }
  const after = counters.toObject();
  const delta: Record<string, number> = {};
  for (const [k, n] of Object.entries(after)) {
    const d = n - (anomaliesBefore[k] ?? 0);
    if (d !== 0) delta[k] = d;
  }
  assert.deepEqual(delta, e.anomalies ?? {}, `${label}: anomalies`);
}

export function frameLabel(capture: string, i: number, f: CraftedFrame): string {
  return `${capture} #${i + 1} (${f.note})`;
}
