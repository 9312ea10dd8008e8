/**
 * The ECS `tls.server.*` fields issue 4 asks for on the flow event, from the
 * leaf's summary. (The event schema module owns the event; this only maps.)
 */
import type { CertificateSummary } from './types.js';

export interface EcsTlsServerFields {
  readonly hash: { readonly sha1: string; readonly sha256: string };
  readonly subject: string;
  readonly issuer: string;
  readonly not_before: string | null;
  readonly not_after: string | null;
}

export function ecsTlsServerFields(leaf: CertificateSummary): EcsTlsServerFields {
  return {
    hash: { sha1: leaf.sha1.toUpperCase(), sha256: leaf.sha256.toUpperCase() },
    subject: leaf.subject,
    issuer: leaf.issuer,
    not_before: leaf.not_before,
    not_after: leaf.not_after,
  };
}
