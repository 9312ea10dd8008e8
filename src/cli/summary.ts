import type { RunSummary } from './pipeline.js';

/** The human summary printed on standard error at the end of a run. */
export function formatSummary(s: RunSummary): string {
  const lines: string[] = [];
  // Grouped digits without toLocaleString (which loads ICU data: ~8 ms at exit).
  const fmt = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  lines.push(`tlsentry: read ${s.inputs.join(', ')}`);
  if (s.skippedInputs.length > 0) {
    const names = s.skippedInputs.map((k) => k.replace(/ \(.*$/, ''));
    lines.push(`  skipped    ${names.length} file(s) that are not captures: ${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''}`);
  }
  lines.push(`  packets    ${fmt(s.packets)} (${fmt(s.tcpPackets)} TCP), ${(s.bytes / 1e6).toFixed(1)} MB captured`);
  const fl = s.flows;
  const reasons = Object.entries(fl.endReasons)
    .filter(([, n]) => n > 0)
    .map(([r, n]) => `${r} ${fmt(n)}`)
    .join(', ');
  lines.push(`  flows      ${fmt(fl.flowsCreated)} TCP flows (${reasons || 'none'}); peak ${fmt(fl.maxActive)} at once`);
  const ds = s.decodeStats;
  const parts: string[] = [];
  for (const [k, v] of [['IPv4', ds.ipv4], ['IPv6', ds.ipv6], ['TCP', ds.tcp], ['UDP', ds.udp], ['ICMP', ds.icmp + ds.icmpv6], ['not IP', ds.notIp], ['fragments reassembled', ds.fragments.reassembled]] as const) {
    if (v > 0) parts.push(`${k} ${fmt(v)}`);
  }
  for (const [proto, n] of Object.entries(ds.otherIpProtocols)) parts.push(`IP proto ${proto} ${fmt(n)}`);
  if (parts.length) lines.push(`  decoded    ${parts.join(', ')}`);
  const tunnels = Object.entries(ds.tunnels).filter(([, n]) => n > 0);
  if (tunnels.length) lines.push(`  tunnels    ${tunnels.map(([k, n]) => `${k} ${fmt(n)}`).join(', ')}`);
  const nd = Object.entries(ds.notDecoded);
  if (nd.length > 0) lines.push(`  not decoded ${nd.map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}`);
  if (s.tlsFlows > 0) {
    const v = Object.entries(s.verdicts).map(([k, n]) => `${k} ${fmt(n)}`).join(', ');
    lines.push(`  tls        ${fmt(s.tlsFlows)} TLS flows; ${fmt(s.certificates)} distinct certificates${v ? `; verdicts: ${v}` : ''}`);
  }
  if (s.enrichment !== null) {
    lines.push(`  endpoint   ${Object.entries(s.enrichment).map(([k, n]) => `${k} ${fmt(n)}`).join(', ') || 'no flows'}`);
  }
  if (s.alerts > 0) lines.push(`  alerts     ${fmt(s.alerts)} AN0759 alert event(s)`);
  const an = Object.entries(s.anomalies);
  if (an.length === 0) lines.push('  anomalies  none');
  else {
    lines.push(`  anomalies  ${fmt(an.reduce((a, [, n]) => a + n, 0))}`);
    for (const [name, n] of an) lines.push(`    ${name.padEnd(44)} ${fmt(n)}`);
  }
  lines.push(`  events     ${fmt(s.eventsWritten)} written to ${s.output === '-' ? 'standard output' : s.output}`);
  // Network sinks only: a file's count is the events line.
  for (const [name, c] of Object.entries(s.sinks ?? {})) {
    if (c.spooled === 0 && c.retried === 0 && c.pending === 0 && c.dropped === 0 && c.rejected === 0 && c.delivered === c.queued && !isNetwork(name)) continue;
    lines.push(
      `  sink ${name.padEnd(10)} ${fmt(c.queued)} queued this run, ${fmt(c.delivered)} delivered, spooled ${fmt(c.spooled)}, retried ${fmt(c.retried)}, rejected ${fmt(c.rejected)}, pending ${fmt(c.pending)}` +
        (c.dropped > 0 ? `, DROPPED ${fmt(c.dropped)} (spool full)` : ''),
    );
  }
  lines.push(
    `  elapsed    ${s.elapsedSec.toFixed(2)} s, ${(s.packetsPerSec / 1e6).toFixed(2)} Mpkt/s, ${s.megabytesPerSec.toFixed(0)} MB/s`,
  );
  return lines.join('\n');
}


function isNetwork(name: string): boolean {
  return !/^(file|stdout)(-\d+)?$/.test(name);
}
