/**
 * Server identity check (RFC 6125): the SNI against the leaf's subjectAltName
 * dNSName / iPAddress entries; the subject CN only when the certificate has no
 * DNS or IP SAN at all. A wildcard is accepted only as the whole left-most
 * label (`*.example.com`), matches exactly one non-empty label, and needs at
 * least two labels after it (`*.com` never matches).
 */
import { isIP } from 'node:net';
import type { CertificateSummary } from './types.js';

/** Lower-case, trailing dot removed; null for an absent or empty SNI. */
export function normalizeSni(sni: string | null | undefined): string | null {
  if (sni === undefined || sni === null) return null;
  let s = sni.trim().toLowerCase();
  if (s.endsWith('.')) s = s.slice(0, -1);
  return s.length === 0 ? null : s;
}

const DIGITS_AND_DOTS = /^[0-9.]+$/;

function canonicalIp(s: string): string | null {
  // isIP says 4 only for digits and dots, 6 only with a colon: a host name skips its regular expressions.
  if (s.indexOf(':') < 0 && !DIGITS_AND_DOTS.test(s)) return null;
  const v = isIP(s);
  if (v === 4) return s.split('.').map((p) => String(Number(p))).join('.');
  if (v === 6) {
    // Expand to 8 words, then compare numerically.
    let head = s;
    let tail = '';
    const dbl = s.indexOf('::');
    if (dbl >= 0) {
      head = s.slice(0, dbl);
      tail = s.slice(dbl + 2);
    }
    const toWords = (part: string): number[] => {
      if (part === '') return [];
      const out: number[] = [];
      for (const w of part.split(':')) {
        if (w.includes('.')) {
          const b = w.split('.').map(Number);
          out.push((b[0] << 8) | b[1], (b[2] << 8) | b[3]);
        } else out.push(parseInt(w, 16));
      }
      return out;
    };
    const h = toWords(head);
    const t = toWords(tail);
    const words = dbl >= 0 ? [...h, ...new Array(8 - h.length - t.length).fill(0), ...t] : h;
    return words.map((w) => w.toString(16)).join(':');
  }
  return null;
}

function matchDnsName(host: string, pattern: string): boolean {
  let p = pattern.toLowerCase();
  if (p.endsWith('.')) p = p.slice(0, -1);
  if (p.length === 0 || p.includes('\u0000')) return false;
  if (!p.startsWith('*.')) return p === host;
  const suffix = p.slice(1); // ".example.com"
  if (suffix.includes('*')) return false;
  if (suffix.split('.').length < 3) return false; // "*.com": needs two labels after the wildcard
  if (!host.endsWith(suffix)) return false;
  const label = host.slice(0, host.length - suffix.length);
  return label.length > 0 && !label.includes('.');
}

/** Does the (normalized) SNI name this certificate? */
export function matchHostname(sni: string, leaf: CertificateSummary): boolean {
  const host = normalizeSni(sni);
  if (host === null) return false;
  const ip = canonicalIp(host);
  if (ip !== null) return leaf.san.ip.some((a) => canonicalIp(a) === ip);
  if (leaf.san.dns.length > 0 || leaf.san.ip.length > 0) return leaf.san.dns.some((d) => matchDnsName(host, d));
  return leaf.common_names.some((cn) => matchDnsName(host, cn));
}
