/**
 * Process enrichment of flows from the endpoint API (see api/openapi.yaml and
 * src/shared/endpoint-api.ts).
 */
export { Enricher, type EnricherOptions, type EnricherStats, type Outcome } from './enricher.js';
export { EA as ENRICH_ANOMALIES } from './anomalies.js';
export { checkAttributionResponse, processProblem, resultProblem } from './response.js';
