/**
 * Interim events: a report on a flow that is still open (live capture), so a
 * connection that lasts a week is visible the day it starts. The fields are
 * those of the flow event (`schema.ts`, same builder) with three differences:
 *
 *   - `event.type` is `["connection", "info"]` (ECS: a state report, not the end);
 *   - `@timestamp` is the time of the report (the flow event uses the flow's
 *     start), so a SIEM indexes the report on the day it was made;
 *   - `event.id` is the flow id with `-i<seq>` (each report is its own event);
 *   - `tlsentry.flow.interim: true` and `tlsentry.flow.interim_seq` (1, 2, …)
 *     replace `tlsentry.flow.end_reason`.
 *
 * Bytes, packets and the asymmetry (`tlsentry.flow.pcr`, `tlsentry.tls.app_pcr`)
 * are totals so far, from the start of the flow.
 */
import type { Flow } from '../flow/index.js';
import { buildFlowEvent, isoTime, type FlowEvent, type FlowExtras, type FlowFields } from './schema.js';

export type InterimFlowFields = Omit<FlowFields, 'end_reason'> & {
  interim: true;
  /** 1 for the first interim report of this flow, then 2, 3, … */
  interim_seq: number;
};

export type InterimFlowEvent = Omit<FlowEvent, 'event' | 'tlsentry'> & {
  event: Omit<FlowEvent['event'], 'type'> & { type: ['connection', 'info'] };
  tlsentry: Omit<FlowEvent['tlsentry'], 'flow'> & { flow: InterimFlowFields };
};

/** The interim event of an open flow, reported at `nowMicros`. */
export function buildInterimEvent(f: Flow, extras: FlowExtras, nowMicros: number, seq: number): InterimFlowEvent {
  const ev = buildFlowEvent(f, extras);
  const { end_reason: _ended, ...flow } = ev.tlsentry.flow;
  return {
    ...ev,
    '@timestamp': isoTime(nowMicros),
    event: { ...ev.event, id: `${ev.event.id}-i${seq}`, type: ['connection', 'info'] },
    tlsentry: { ...ev.tlsentry, flow: { ...flow, interim: true, interim_seq: seq } },
  };
}
