/**
 * Process identity for baselines: the normalised executable path plus the
 * signer (signed images) or the SHA-256 (unsigned ones).
 *
 * Normalisation makes one program look the same on every host and for every
 * user, so a fleet baseline can pool it:
 * - Windows: `\\?\` and `\??\` prefixes dropped, `/` → `\`, case-folded,
 *   `\SystemRoot\` → `c:\windows\`, `C:\Users\<name>\` → `c:\users\<user>\`;
 * - Linux: ` (deleted)` dropped, `/home/<name>/` → `/home/<user>/`,
 *   `/run/user/<uid>/` and snap revisions replaced;
 * - both: dotted version directories (`…\Application\92.0.902.67\…`) →
 *   `<version>`, so an update keeps the identity of a signed helper.
 */
import type { EndpointProcess } from '../shared/endpoint-api.js';
import type { ProcessIdentity } from './types.js';

export const UNKNOWN_EXECUTABLE = '<unknown>';

export function isWindowsPath(p: string): boolean {
  return /^[a-zA-Z]:[\\/]/.test(p) || p.startsWith('\\') || (p.includes('\\') && !p.includes('/'));
}

const VERSION_DIR = /^\d+(\.\d+){2,}$/;

export function normalizeExecutable(raw: string | null | undefined): string {
  if (raw == null) return UNKNOWN_EXECUTABLE;
  let p = raw.trim();
  if (p === '' || p === '<unknown process>' || p === '-') return UNKNOWN_EXECUTABLE;
  if (isWindowsPath(p)) {
    p = p.replace(/\//g, '\\').toLowerCase();
    p = p.replace(/^\\\\\?\\/, '').replace(/^\\\?\?\\/, '');
    p = p.replace(/^\\systemroot\\/, 'c:\\windows\\').replace(/^%(systemroot|windir)%\\/, 'c:\\windows\\');
    p = p.replace(/\\{2,}/g, '\\');
    p = p.replace(/^([a-z]:\\users\\)[^\\]+\\/, '$1<user>\\');
    return p
      .split('\\')
      .map((s) => (VERSION_DIR.test(s) ? '<version>' : s))
      .join('\\');
  }
  p = p.replace(/ \(deleted\)$/, '').replace(/\/{2,}/g, '/');
  p = p.replace(/^\/home\/[^/]+\//, '/home/<user>/');
  p = p.replace(/^\/run\/user\/\d+\//, '/run/user/<uid>/');
  p = p.replace(/^\/snap\/([^/]+)\/\d+\//, '/snap/$1/<rev>/');
  return p
    .split('/')
    .map((s) => (VERSION_DIR.test(s) ? '<version>' : s))
    .join('/');
}

/** The last path component, lower-cased on Windows. */
export function imageBaseName(raw: string | null | undefined): string | null {
  if (!raw) return null;
  const win = isWindowsPath(raw);
  const parts = raw.split(win ? /[\\/]/ : '/');
  const last = parts[parts.length - 1] ?? '';
  return last === '' ? null : win ? last.toLowerCase() : last;
}

export interface IdentityOptions {
  /** Unsigned images: tell versions apart by hash (`hash`), or pool them by path (`path`). */
  unsigned: 'hash' | 'path';
}

export function processIdentity(p: EndpointProcess, opts: IdentityOptions): ProcessIdentity {
  const executable = normalizeExecutable(p.executable ?? p.name);
  const sig = p.code_signature;
  const signer = sig && sig.signed && sig.subject ? sig.subject.trim() : null;
  const sha256 = p.hash?.sha256 ? p.hash.sha256.toLowerCase() : null;
  if (signer) return { key: `${executable}|signer:${signer.toLowerCase()}`, executable, basis: 'signer', signer, sha256 };
  if (sha256 && opts.unsigned === 'hash') return { key: `${executable}|sha256:${sha256}`, executable, basis: 'sha256', signer: null, sha256 };
  return { key: `${executable}|path`, executable, basis: 'path', signer: null, sha256 };
}

/** Case-insensitive glob (`*` matches anything, separators included) compiled once. */
export function globToRegExp(pattern: string): RegExp {
  const esc = pattern.replace(/[.+^${}()|[\]\\?]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${esc}$`, 'i');
}
