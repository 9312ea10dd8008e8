/**
 * Anomalies of the enrichment stage (sensor side of the endpoint API).
 */
import { defineAnomaly } from '../shared/anomalies.js';

export const EA = {
  timeout: defineAnomaly('enrich.timeout', 'An attribution request to the endpoint agent timed out (after retries)'),
  retry: defineAnomaly('enrich.retry', 'An attribution request was retried after a timeout, a connection error or a 5xx answer'),
  agentUnavailable: defineAnomaly('enrich.agent_unavailable', 'The endpoint agent could not be reached or answered 5xx, after retries'),
  authFailed: defineAnomaly('enrich.auth_failed', 'The endpoint agent refused the bearer token (401/403)'),
  badResponse: defineAnomaly('enrich.bad_response', 'The endpoint agent answered something that is not a valid attribution response (not JSON, wrong shape, wrong count, 4xx)'),
  queueFull: defineAnomaly('enrich.queue_full', 'A lookup was not queued because the enrichment queue was full'),
  circuitOpen: defineAnomaly('enrich.circuit_open', 'A lookup was not sent because the circuit breaker was open'),
  breakerOpened: defineAnomaly('enrich.breaker_opened', 'The circuit breaker opened after consecutive failed requests'),
  invalidQuery: defineAnomaly('enrich.invalid_query', 'A lookup carried an invalid flow key and was not sent'),
  duplicateId: defineAnomaly('enrich.duplicate_id', 'A lookup reused the id of one still in flight (ignored)'),
  drainDeadline: defineAnomaly('enrich.drain_deadline', 'Lookups still unanswered when the end-of-input deadline passed'),
};
