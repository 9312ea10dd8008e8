/**
 * Decodes every crafted capture (scripts/craft-pcaps.ts) and checks each
 * frame's fields exactly; then, when tshark is installed, cross-checks
 * addresses, ports, sequence numbers and payload lengths per frame against
 * tshark reading the same files.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { craftCaptures, frameMicros, R_HELD, R_NOT_IP, R_OTHER_IP, R_TCP, writeCaptures } from '../../scripts/craft-pcaps.js';
import { AnomalyCounters } from '../../src/shared/anomalies.js';
import { DECODE_FAILED, DECODE_HELD, DECODE_NOT_IP, DECODE_OTHER_IP, DECODE_TCP, Decoder, PacketView } from '../../src/decode/index.js';
import { addrText, assertExpect, frameLabel, hasCommand, recordIn } from './helpers.js';

const captures = craftCaptures();

test('result constants match the generator', () => {
  assert.deepEqual(
    [DECODE_TCP, DECODE_OTHER_IP, DECODE_NOT_IP, DECODE_HELD, DECODE_FAILED],
    [R_TCP, R_OTHER_IP, R_NOT_IP, R_HELD, 0],
  );
});

describe('crafted captures decode to the expected fields', () => {
  for (const cap of captures) {
    test(`${cap.name} (linktype ${cap.linkType})`, () => {
      const counters = new AnomalyCounters();
      const dec = new Decoder(counters);
      const view = new PacketView();
      const tunnels: Record<string, number> = {};
      cap.frames.forEach((f, i) => {
        const before = counters.toObject();
        const rec = recordIn(cap.linkType, f.data, f.wirelen ?? f.data.length, frameMicros(i));
        const r = dec.decode(rec, view);
        const label = frameLabel(cap.name, i, f);
        assertExpect(label, r, view, f.expect, before, counters);
        assert.equal(view.tsMicros, frameMicros(i), `${label}: tsMicros`);
        if (r === DECODE_TCP || r === DECODE_OTHER_IP) {
          const reassembled = view.payload !== rec.data;
          if (!reassembled) {
            // Read in place: the payload is a window on the frame, inside it.
            assert.ok(view.payloadOffset >= rec.offset, `${label}: payload starts inside the frame`);
            assert.ok(view.payloadOffset + view.payloadLength <= rec.offset + rec.caplen, `${label}: payload ends inside the frame`);
          } else {
            assert.ok(view.payloadOffset + view.payloadLength <= view.payload.length, `${label}: payload inside the datagram`);
          }
        }
        for (const t of f.expect.tunnels ?? []) tunnels[t] = (tunnels[t] ?? 0) + 1;
      });
      const st = dec.stats;
      assert.equal(st.packets, cap.frames.length);
      assert.equal(st.linkTypes[cap.linkType], cap.frames.length);
      for (const [k, n] of Object.entries(st.tunnels)) assert.equal(n, tunnels[k] ?? 0, `tunnels.${k}`);
      assert.equal(dec.fragmentDatagrams, 0, 'no datagram left half-reassembled');
      assert.equal(dec.fragmentMemory, 0);
      assert.deepEqual(st.snapshot().notDecoded, {}, 'nothing in the crafted captures is left undecoded');
    });
  }
});

test('stats count what the crafted captures hold', () => {
  const counters = new AnomalyCounters();
  const dec = new Decoder(counters);
  const view = new PacketView();
  for (const cap of captures) {
    cap.frames.forEach((f, i) => dec.decode(recordIn(cap.linkType, f.data, f.wirelen ?? f.data.length, frameMicros(i)), view));
  }
  const s = dec.stats.snapshot();
  assert.equal(s.packets, captures.reduce((n, c) => n + c.frames.length, 0));
  assert.equal(s.linkTypes['linktype 1 (ethernet)'], captures.filter((c) => c.linkType === 1).reduce((n, c) => n + c.frames.length, 0));
  assert.equal(s.linkTypes['linktype 276 (linux sll2)'], 3);
  assert.equal(s.fragments.reassembled, 4);
  assert.equal(s.fragments.held, 6);
  assert.equal(s.fragments.received, 10);
  assert.equal(s.vlanTagged, 3);
  assert.equal(s.snapTruncated, 1);
  assert.equal(s.icmp, 1);
  assert.ok(s.notIpTypes['ethertype 0x0806 (ARP)'] === 1 && s.notIpTypes['ethertype 0x88cc (LLDP)'] === 1);
  assert.equal(s.notIpTypes['sll protocol 0x0004 (802.2 LLC)'], 2);
  assert.equal(s.notIpTypes['ppp protocol 0xc021 (LCP)'], 2);
  assert.equal(s.notIp, 6); // ARP, LLDP, two LLC, two LCP
  assert.equal(s.zeroLengthTso, 1);
  assert.deepEqual(s.tunnels, { gre: 3, erspan: 3, vxlan: 2, geneve: 1, mpls: 2, pppoe: 3, ipInIp: 2 });
  assert.doesNotThrow(() => JSON.stringify(s));
});

// ---------------------------------------------------------------------------

const tshark = hasCommand('tshark');
const FIELDS = [
  'frame.number', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'tcp.srcport', 'tcp.dstport', 'tcp.seq_raw',
  'tcp.ack_raw', 'tcp.len', 'udp.srcport', 'udp.dstport', 'udp.length',
] as const;
type Row = Record<(typeof FIELDS)[number], string>;

describe('cross-check with tshark', { skip: tshark ? false : 'tshark not installed (Debian package: tshark)' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tlsentry-decode-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const paths = writeCaptures(dir);
  const run = promisify(execFile);

  for (const [ci, cap] of captures.entries()) {
    test(cap.name, async () => {
      // -E occurrence=l: the innermost value when tunnels repeat a field.
      const args = ['-r', paths[ci], '-T', 'fields', '-E', 'occurrence=l', '-E', 'separator=\t'];
      for (const f of FIELDS) args.push('-e', f);
      const { stdout } = await run('tshark', args, { env: { ...process.env, LC_ALL: 'C' } });
      const rows: Row[] = stdout
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => {
          const cols = l.split('\t');
          return Object.fromEntries(FIELDS.map((f, i) => [f, cols[i] ?? ''])) as Row;
        });
      assert.equal(rows.length, cap.frames.length, 'tshark sees every frame');

      const dec = new Decoder(new AnomalyCounters());
      const view = new PacketView();
      let compared = 0;
      cap.frames.forEach((f, i) => {
        const r = dec.decode(recordIn(cap.linkType, f.data, f.wirelen ?? f.data.length, frameMicros(i)), view);
        if (cap.tsharkSkip?.[i] !== undefined) return;
        const t = rows[i];
        const label = frameLabel(cap.name, i, f);
        if (view.ipVersion === 4 && r !== DECODE_NOT_IP) {
          assert.equal(addrText(view, 'src'), t['ip.src'], `${label}: ip.src`);
          assert.equal(addrText(view, 'dst'), t['ip.dst'], `${label}: ip.dst`);
        } else if (view.ipVersion === 6 && r !== DECODE_NOT_IP) {
          assert.equal(addrText(view, 'src'), t['ipv6.src'], `${label}: ipv6.src`);
          assert.equal(addrText(view, 'dst'), t['ipv6.dst'], `${label}: ipv6.dst`);
        } else {
          assert.equal(t['ip.src'] + t['ipv6.src'], '', `${label}: tshark sees no IP either`);
        }
        if (r === DECODE_TCP) {
          assert.equal(String(view.srcPort), t['tcp.srcport'], `${label}: tcp.srcport`);
          assert.equal(String(view.dstPort), t['tcp.dstport'], `${label}: tcp.dstport`);
          assert.equal(String(view.seq), t['tcp.seq_raw'], `${label}: tcp.seq_raw`);
          assert.equal(String(view.ack), t['tcp.ack_raw'], `${label}: tcp.ack_raw`);
          assert.equal(String(view.payloadWireLength), t['tcp.len'], `${label}: tcp.len`);
        } else if (r === DECODE_OTHER_IP && view.protocol === 17) {
          assert.equal(String(view.srcPort), t['udp.srcport'], `${label}: udp.srcport`);
          assert.equal(String(view.dstPort), t['udp.dstport'], `${label}: udp.dstport`);
          assert.equal(String(view.payloadWireLength + 8), t['udp.length'], `${label}: udp.length`);
        } else if (r === DECODE_HELD) {
          assert.equal(t['tcp.srcport'] + t['udp.srcport'], '', `${label}: tshark holds the fragment too`);
        }
        compared++;
      });
      assert.ok(compared > 0);
    });
  }
});
