/**
 * Certificate message of TLS 1.0–1.2 (RFC 5246 §7.4.2), server or client side:
 *
 *     opaque ASN.1Cert<1..2^24-1>;
 *     struct {
 *         ASN.1Cert certificate_list<0..2^24-1>;
 *     } Certificate;
 *
 * Only split here: X.509 parsing belongs to the x509 stage. (TLS 1.3 sends
 * its Certificate encrypted, so it never reaches this parser.)
 */
import { A } from './anomalies.js';

export interface CertificateList {
  /** DER certificates in wire order. */
  readonly certificates: Buffer[];
  /** Anomaly ids for a list that did not add up or was cut to `maxCerts`. */
  readonly issues: number[];
}

/**
 * Split a Certificate message body `buf[start, end)` into DER buffers. When
 * `owned` is false the buffer is only lent for this call, so each certificate
 * is copied; when true, views of it are returned (`intern`, when given,
 * provides each certificate's buffer instead). At most `maxCerts` are
 * kept; entries that do not add up end the list with `tls.certificate.malformed`.
 */
export function parseCertificateList(
  buf: Buffer,
  start: number,
  end: number,
  owned: boolean,
  maxCerts = 16,
  /** Gives each certificate a buffer of its own, shared by equal certificates (HelloMemo). */
  intern?: { der(buf: Buffer, start: number, end: number): Buffer },
): CertificateList {
  const certificates: Buffer[] = [];
  const issues: number[] = [];
  if (end - start < 3) {
    issues.push(A.certificateMalformed);
    return { certificates, issues };
  }
  const listLen = (buf[start] << 16) | (buf[start + 1] << 8) | buf[start + 2];
  let p = start + 3;
  if (p + listLen !== end) issues.push(A.certificateMalformed);
  const stop = Math.min(p + listLen, end);
  while (p < stop) {
    if (stop - p < 3) {
      issues.push(A.certificateMalformed);
      break;
    }
    const len = (buf[p] << 16) | (buf[p + 1] << 8) | buf[p + 2];
    p += 3;
    if (len === 0 || stop - p < len) {
      issues.push(A.certificateMalformed);
      break;
    }
    if (certificates.length === maxCerts) {
      issues.push(A.certificateTooMany);
      break;
    }
    if (intern !== undefined) certificates.push(intern.der(buf, p, p + len));
    else {
      const der = buf.subarray(p, p + len);
      certificates.push(owned ? der : Buffer.from(der));
    }
    p += len;
  }
  return { certificates, issues };
}
