/**
 * TLS library classification, from `../shared/endpoint/tls_module_watchlist.json`
 * (OTRF Sysmon EID 7 observations): which loaded modules are a TLS provider
 * (strong evidence that the process speaks TLS itself), an HTTP stack (weak:
 * winhttp/wininet are loaded by many processes that never speak TLS), or
 * crypto/sockets context only; and which TLS implementation family a module
 * belongs to, for comparison with the client fingerprint.
 */
import type { TlsLibraryLoad } from '../shared/endpoint-api.js';
import { imageBaseName } from './identity.js';

export type LibraryStrength = 'provider' | 'http' | 'crypto' | 'other';

export interface LibraryClass {
  /** Implementation family (`schannel`, `openssl`, `nss`, …), or null for HTTP stacks and crypto. */
  family: string | null;
  strength: LibraryStrength;
}

/** [basename pattern, family, strength]; first match wins. */
const TABLE: [RegExp, string | null, LibraryStrength][] = [
  [/^(schannel|ncryptsslp)\.dll$/, 'schannel', 'provider'],
  [/^system\.net\.security(\.native)?\.(dll|so)$/, 'dotnet', 'provider'],
  [/^libsystem\.security\.cryptography\.native\.openssl\.so/, 'openssl', 'provider'],
  // NSS's libssl3.so must come before OpenSSL's libssl.so.3.
  [/^(nss3\.dll|ssl3\.dll|libnss3\.(so|dylib)|libssl3\.so)/, 'nss', 'provider'],
  [/^(libssl[-.].*|libssl|ssleay32\.dll|libssl-\d.*\.dll)$/, 'openssl', 'provider'],
  [/^_ssl\.cpython.*\.so$/, 'openssl', 'provider'],
  [/^_ssl\.pyd$/, 'openssl', 'provider'],
  [/^libgnutls.*|^libgiognutls\.so$/, 'gnutls', 'provider'],
  [/^libmbedtls.*|^mbedtls\.dll$/, 'mbedtls', 'provider'],
  [/^libwolfssl.*|^wolfssl\.dll$/, 'wolfssl', 'provider'],
  [/^libtls\.so.*/, 'libressl', 'provider'],
  [/^libs2n\.so.*/, 's2n', 'provider'],
  [/^librustls\.so.*/, 'rustls', 'provider'],
  [/^libboringssl\.dylib$/, 'boringssl', 'provider'],
  [/^libcoretls.*\.dylib$/, 'securetransport', 'provider'],
  [/^(winhttp|wininet|webio|urlmon|bitsproxy|msxml[36]|windows\.web\.http|system\.net\.http|system\.net)\.dll$/, null, 'http'],
  [/^libcurl.*/, null, 'http'],
  [/^(secur32|sspicli|crypt32|cryptnet|wintrust|ncrypt|bcrypt|bcryptprimitives|rsaenh|cryptsp|cryptbase|dpapi)\.dll$/, null, 'crypto'],
  [/^libcrypto[-.].*|^libeay32\.dll$|^libcrypto-\d.*\.dll$|^libmbed(x509|crypto).*|^libnspr4.*|^nspr4\.dll$|^libsmime3.*/, null, 'crypto'],
];

/** Agent categories that mean "TLS provider" whatever the file is called. */
const PROVIDER_CATEGORIES = new Set(['tls_stack', 'tls_provider', 'tls', 'managed_tls']);
const HTTP_CATEGORIES = new Set(['http_stack', 'http']);

export function classifyLibrary(lib: Pick<TlsLibraryLoad, 'path' | 'category'>): LibraryClass {
  const base = (imageBaseName(lib.path) ?? lib.path).toLowerCase();
  for (const [re, family, strength] of TABLE) if (re.test(base)) return { family, strength };
  if (PROVIDER_CATEGORIES.has(lib.category)) return { family: null, strength: 'provider' };
  if (HTTP_CATEGORIES.has(lib.category)) return { family: null, strength: 'http' };
  return { family: null, strength: lib.category === 'crypto' ? 'crypto' : 'other' };
}

/** Family of a compiled-in stack as the endpoint API names it (`go`, `rustls`, `boringssl`, …). */
export function staticStackFamily(stack: string | null): string | null {
  if (!stack) return null;
  const s = stack.toLowerCase();
  if (s.includes('go')) return 'go';
  if (s.includes('boring')) return 'boringssl';
  if (s.includes('rustls')) return 'rustls';
  if (s.includes('openssl')) return 'openssl';
  if (s.includes('java')) return 'java';
  return s;
}
