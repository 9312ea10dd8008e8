/**
 * OCSF Network Activity (4001) mapping of flow events: on every golden flow
 * event and on built ones (process attribution, interim, reset), required
 * attributes present with OCSF's types and values equal to the ECS event's.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { ocsfFor, toOcsfNetworkActivity, OCSF_VERSION, type OcsfNetworkActivity } from '../../src/output/ocsf.js';
import type { FlowEvent, InterimFlowEvent, X509Event } from '../../src/output/schema.js';
import { kindOf } from '../../scripts/event-schemas.mjs';
import { builtSamples, goldenSamples, type Ev, type Sample } from './schema-samples.js';

let golden: Sample[];
let built: Sample[];
before(async () => {
  golden = goldenSamples();
  built = await builtSamples();
});

const isInt = (v: unknown) => Number.isInteger(v);

/** OCSF's required attributes of the class and of the objects used, with their types. */
function checkRequired(o: OcsfNetworkActivity, where: string): string[] {
  const bad: string[] = [];
  const need = (cond: boolean, what: string) => {
    if (!cond) bad.push(`${where}: ${what}`);
  };
  need(o.class_uid === 4001 && o.category_uid === 4, 'class_uid 4001, category_uid 4');
  need([1, 2, 3, 4, 5, 6, 7, 99].includes(o.activity_id), `activity_id ${o.activity_id}`);
  need(o.type_uid === o.class_uid * 100 + o.activity_id, 'type_uid = class_uid * 100 + activity_id');
  need(isInt(o.time) && o.time > 1e12, 'time: timestamp_t (ms)');
  need(isInt(o.severity_id), 'severity_id');
  need(o.metadata.version === OCSF_VERSION && typeof o.metadata.product.vendor_name === 'string' && o.metadata.product.name === 'tlsentry', 'metadata.version, metadata.product');
  need(typeof o.src_endpoint.ip === 'string' && isInt(o.src_endpoint.port), 'src_endpoint');
  need(typeof o.dst_endpoint.ip === 'string' && isInt(o.dst_endpoint.port), 'dst_endpoint');
  need(isInt(o.connection_info.direction_id) && o.connection_info.protocol_num === 6, 'connection_info.direction_id, protocol_num');
  for (const k of ['bytes', 'bytes_in', 'bytes_out', 'packets', 'packets_in', 'packets_out'] as const) need(isInt(o.traffic[k]), `traffic.${k}`);
  if (o.tls !== undefined) {
    need(typeof o.tls.version === 'string', 'tls.version (required by the tls object)');
    for (const fp of [o.tls.ja3_hash, o.tls.ja3s_hash, ...(o.tls.certificate?.fingerprints ?? [])]) {
      if (fp !== undefined) need(isInt(fp.algorithm_id) && typeof fp.value === 'string', 'fingerprint algorithm_id, value');
    }
    if (o.tls.certificate !== undefined) need(typeof o.tls.certificate.issuer === 'string' && typeof o.tls.certificate.serial_number === 'string', 'certificate issuer, serial_number');
  }
  for (const j of o.ja4_fingerprint_list ?? []) need(isInt(j.type_id) && typeof j.value === 'string', 'ja4 type_id, value');
  const p = o.actor?.process;
  if (p !== undefined) {
    need(isInt(p.pid), 'actor.process.pid');
    if (p.file !== undefined) need(typeof p.file.name === 'string' && p.file.type_id === 1, 'actor.process.file name, type_id');
    need(o.metadata.profiles.includes('host'), 'host profile declared for actor');
  }
  return bad;
}

/** The values that must equal the ECS event's. */
function checkValues(o: OcsfNetworkActivity, e: FlowEvent | InterimFlowEvent): void {
  assert.equal(o.metadata.uid, e.event.id);
  assert.equal(o.connection_info.uid, e.tlsentry.flow.id);
  assert.equal(o.connection_info.community_uid, e.network.community_id);
  assert.equal(o.connection_info.protocol_ver_id, e.network.type === 'ipv6' ? 6 : 4);
  assert.deepEqual(o.src_endpoint, { ip: e.source.ip, port: e.source.port });
  assert.deepEqual(o.dst_endpoint, { ip: e.destination.ip, port: e.destination.port });
  assert.deepEqual(o.traffic, {
    bytes: e.network.bytes,
    bytes_out: e.source.bytes,
    bytes_in: e.destination.bytes,
    packets: e.network.packets,
    packets_out: e.source.packets,
    packets_in: e.destination.packets,
  });
  assert.equal(o.start_time, Math.floor(Date.parse(e.event.start)));
  assert.equal(o.end_time, Math.floor(Date.parse(e.event.end)));
  assert.equal(o.duration, Math.round(e.event.duration / 1e6));
  assert.equal(o.tls?.version, e.tls?.version);
  assert.equal(o.tls?.sni, e.tls?.client.server_name);
  assert.equal(o.tls?.cipher, e.tls?.cipher);
  assert.equal(o.tls?.ja3_hash?.value, e.tls?.version !== undefined ? e.tls.client.ja3 : undefined);
  assert.equal(o.ja4_fingerprint_list?.find((j) => j.type_id === 1)?.value, e.tlsentry.tls?.ja4);
  assert.deepEqual(o.unmapped.tlsentry, e.tlsentry);
}

describe('OCSF Network Activity mapping', () => {
  it('every golden flow event maps, with required attributes and the ECS values', () => {
    const flows = golden.filter((s) => kindOf(s.event) === 'flow');
    assert.ok(flows.length >= 15, `golden flows: ${flows.length}`);
    let tls = 0;
    for (const s of flows) {
      const o = toOcsfNetworkActivity(s.event as unknown as FlowEvent);
      assert.deepEqual(checkRequired(o, s.name), []);
      checkValues(o, s.event as unknown as FlowEvent);
      const reason = s.event.tlsentry.flow.end_reason;
      assert.equal(o.activity_id, reason === 'rst' ? 3 : 2, `${s.name}: ${reason}`);
      assert.equal(o.time, Date.parse(s.event.event.end), 'a finished flow happened at its end');
      if (o.tls !== undefined) tls++;
    }
    assert.ok(tls >= 8, `flows with tls: ${tls}`);
  });

  it('a reset flow is activity 3 (Reset), type_uid 400103', () => {
    const e = JSON.parse(JSON.stringify(golden.find((s) => kindOf(s.event) === 'flow')!.event)) as Ev;
    e.tlsentry.flow.end_reason = 'rst';
    const o = toOcsfNetworkActivity(e as FlowEvent);
    assert.equal(o.activity_id, 3);
    assert.equal(o.type_uid, 400103);
    assert.equal(o.type_name, 'Network Activity: Reset');
  });

  it('an interim report is activity 6 (Traffic) at the time of the report', () => {
    const s = built.find((x) => x.name === 'interim')!;
    const o = toOcsfNetworkActivity(s.event as unknown as InterimFlowEvent);
    assert.deepEqual(checkRequired(o, s.name), []);
    checkValues(o, s.event as unknown as InterimFlowEvent);
    assert.equal(o.activity_id, 6);
    assert.equal(o.type_uid, 400106);
    assert.equal(o.time, Math.floor(Date.parse(s.event['@timestamp'])));
    assert.equal(o.metadata.uid, `${s.event.tlsentry.flow.id}-i1`);
  });

  it('an attributed flow carries actor.process (host profile)', () => {
    const s = built.find((x) => x.name === 'flow with process')!;
    const e = s.event as unknown as FlowEvent;
    const o = toOcsfNetworkActivity(e);
    assert.deepEqual(checkRequired(o, s.name), []);
    const p = o.actor!.process;
    assert.equal(p.pid, e.process!.pid);
    assert.equal(p.uid, e.process!.entity_id);
    assert.equal(p.cmd_line, e.process!.command_line);
    assert.equal(p.file?.path, e.process!.executable);
    assert.equal(p.file?.name, 'curl');
    assert.equal(p.created_time, Date.parse(e.process!.start!));
    assert.equal(p.user?.name, e.process!.user!.name);
    assert.equal(p.parent_process?.pid, e.process!.parent!.pid);
    assert.deepEqual(p.file?.hashes?.map((h) => h.algorithm_id), [1, 2, 3]);
    assert.deepEqual(o.metadata.profiles, ['host']);
  });

  it('the leaf certificate’s x509 event adds tls.certificate (only when it is the chain’s leaf)', () => {
    const flowEv = golden.find((s) => kindOf(s.event) === 'flow' && (s.event.tlsentry.x509?.chain_sha1?.length ?? 0) > 0)!.event as unknown as FlowEvent;
    const leafSha1 = flowEv.tlsentry.x509!.chain_sha1[0];
    const x = golden.find((s) => kindOf(s.event) === 'x509' && s.event.tlsentry.x509.sha1 === leafSha1)!.event as unknown as X509Event;
    const o = toOcsfNetworkActivity(flowEv, { leafCertificate: x, productVersion: '0.1.0' });
    const c = o.tls!.certificate!;
    assert.equal(c.serial_number, ('server' in x.tls ? x.tls.server : x.tls.client).x509.serial_number);
    assert.equal(c.issuer, flowEv.tls!.server.issuer);
    assert.equal(c.subject, flowEv.tls!.server.subject);
    assert.equal(c.fingerprints.find((f) => f.algorithm_id === 3)!.value.toUpperCase(), flowEv.tls!.server.hash!.sha256);
    assert.equal(c.expiration_time, Date.parse(flowEv.tls!.server.not_after!));
    assert.equal(o.metadata.product.version, '0.1.0');
    const other = golden.find((s) => kindOf(s.event) === 'x509' && s.event.tlsentry.x509.sha1 !== leafSha1)!.event as unknown as X509Event;
    assert.equal(toOcsfNetworkActivity(flowEv, { leafCertificate: other }).tls!.certificate, undefined, 'not the leaf: no certificate');
  });

  it('a flow without a TLS version has no tls object (tls.version is required)', () => {
    const plain = golden.find((s) => kindOf(s.event) === 'flow' && s.event.tls === undefined)!;
    assert.equal(toOcsfNetworkActivity(plain.event as unknown as FlowEvent).tls, undefined);
  });

  it('ocsfFor maps flows and returns null for x509, alert and stats events', () => {
    assert.notEqual(ocsfFor(golden.find((s) => kindOf(s.event) === 'flow')!.event), null);
    for (const k of ['x509', 'alert', 'stats']) {
      const s = built.find((x) => kindOf(x.event) === k)!;
      assert.equal(ocsfFor(s.event), null, k);
    }
  });
});
