/**
 * x509 stage: certificate summaries and chain verdicts at capture time.
 *
 * Input (from the TLS stage): per TLS 1.0–1.2 connection, the Certificate
 * message as DER buffers (leaf first, as sent), the SNI, the capture time in
 * microseconds. TLS 1.3 hides the certificates: use
 * `certificateNotVisibleVerdict`.
 *
 * Everything exported here is plain data or a class holding plain data; pkijs
 * objects never leave this folder.
 */
export type {
  AnchorInfo,
  AnchorKind,
  CertificateAnomaly,
  CertificateSummary,
  ChainAnomaly,
  ChainVerdict,
  KeyType,
  PathEngineOutcome,
  PathValidation,
  PublicKeySummary,
  SignatureAlgorithmSummary,
  SubjectAltNames,
  ValidationStatus,
} from './types.js';
export { ANCHOR_KINDS, CHAIN_ANOMALIES } from './types.js';
export { summarizeCertificate } from './certificate.js';
export { CertificateCache, type CertificateCacheOptions, type CertificateLookup } from './cache.js';
export {
  TrustStore,
  parseCaBundleArg,
  pemCertificates,
  type CaBundleSpec,
  type LoadReport,
  type TrustStoreOptions,
} from './trust.js';
export { IntermediateCache } from './intermediates.js';
export {
  ChainJudge,
  certificateNotVisibleVerdict,
  judgeChain,
  type ChainInput,
  type ChainJudgeOptions,
  type JudgeChainOptions,
  type JudgeContext,
  type JudgeStats,
} from './judge.js';
export { matchHostname, normalizeSni } from './hostname.js';
