/**
 * The detect stage's public face: MITRE AN0759 (processes that normally make
 * no outbound TLS starting to, especially with asymmetric traffic, odd
 * certificate chains or unexpected TLS libraries), as explainable alerts
 * against a per-host, per-process baseline.
 *
 * The pipeline builds one `DetectionInput` per finished flow and calls
 * `detector.observe(input)`; every `Alert` carries the rules that fired with
 * their evidence, the flow ids, Community ID, process and destination. The
 * output stage turns it into the `tlsentry.alert` event.
 */
export type { Alert, AlertProcess, DetectionFlow, DetectionInput, Evidence, IdentityHistory, ProcessIdentity, RuleHit, RuleName } from './types.js';
export { RULE_NAMES, THREAT } from './types.js';
export {
  defaultDetectConfig,
  detectConfigSchema,
  formatConfigIssues,
  loadDetectConfig,
  parseDetectConfig,
  parseDuration,
  type DetectConfig,
} from './config.js';
export { Detector, type DetectorOptions, type DetectorStats, type Scoring } from './detector.js';
export {
  BaselineCache,
  exportBaseline,
  parseBaselineExport,
  type BaselineDelta,
  type BaselineExport,
  type BaselineRecord,
  type BaselineStore,
} from './baseline.js';
export { SqliteBaselineStore } from './baseline-sqlite.js';
export { PgBaselineStore, isPostgresUrl, redactUrl } from './baseline-pg.js';
export { openBaselineStore, type OpenBaselineOptions } from './baseline-open.js';
export { baselineCommand, formatBaselineTable, type BaselineBuildRequest, type BaselineCommandHooks } from './command.js';
export { normalizeExecutable, processIdentity } from './identity.js';
export { classifyLibrary } from './libraries.js';
export { loadProcessLists, compileProcessLists, type ProcessLists } from './process-lists.js';
export { RULES, type Rule, type RuleContext, type FlowView } from './rules/index.js';
export { buildFlowView } from './view.js';
