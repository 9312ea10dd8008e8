/**
 * Interim events: a report on a flow that is still open (live capture), so a
 * connection that lasts a week is visible the day it starts. The fields are
 * those of the flow event (`schema.ts`, same builder) with these differences:
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
 *
 * The type and the builder live in schema.ts with every other event shape.
 */
export { buildInterimEvent, type InterimFlowEvent, type InterimFlowFields } from './schema.js';
