/**
 * Which mapped or loaded modules count as TLS evidence, and how strongly.
 *
 * The built-in list follows the groups of the shared TLS-module watchlist
 * (tls_module_watchlist.json: high-specificity TLS providers, SSPI and
 * crypto, HTTP stacks, managed runtimes, third-party TLS libraries, and the
 * socket/DNS modules kept only as context). A watchlist file in that format
 * can be merged in with `loadWatchlistFile`.
 *
 * Categories (the API's `tls_libraries[].category`):
 * - `tls_stack`: a TLS implementation (libssl, GnuTLS, NSS, schannel, ncryptsslp, …): strong evidence.
 * - `crypto`: crypto or SSPI plumbing a TLS stack uses (libcrypto, bcrypt, crypt32, …): medium.
 * - `http_stack`: HTTP client stacks that may speak TLS (libcurl, winhttp, wininet, …): weak.
 * - `managed_tls`: .NET TLS assemblies and native shims.
 * - `socket_context`: sockets and DNS (ws2_32, mswsock, dnsapi, …): context only.
 */
import { readFileSync } from 'node:fs';

export type TlsCategory = 'tls_stack' | 'crypto' | 'http_stack' | 'managed_tls' | 'socket_context';

interface Rule {
  re: RegExp;
  category: TlsCategory;
}

/** Patterns on the lower-case base name of a module. */
const BUILTIN: [string, TlsCategory][] = [
  // Linux shared libraries
  ['^libssl\\.so(\\.|$)', 'tls_stack'],
  ['^libssl3\\.so$', 'tls_stack'],
  ['^libgnutls(-openssl)?\\.so(\\.|$)', 'tls_stack'],
  ['^libnss3\\.so(\\.|$)', 'tls_stack'],
  ['^libsmime3\\.so(\\.|$)', 'crypto'],
  ['^libnspr4\\.so(\\.|$)', 'crypto'],
  ['^libmbedtls\\.so(\\.|$)', 'tls_stack'],
  ['^libmbedx509\\.so(\\.|$)', 'crypto'],
  ['^libmbedcrypto\\.so(\\.|$)', 'crypto'],
  ['^libwolfssl\\.so(\\.|$)', 'tls_stack'],
  ['^libtls\\.so(\\.|$)', 'tls_stack'],
  ['^libs2n\\.so(\\.|$)', 'tls_stack'],
  ['^librustls\\.so(\\.|$)', 'tls_stack'],
  ['^libboringssl\\.(so|dylib)', 'tls_stack'],
  ['^libgiognutls\\.so(\\.|$)', 'tls_stack'],
  ['^_ssl\\.cpython-.*\\.so$', 'tls_stack'],
  ['^_ssl\\.(so|pyd)$', 'tls_stack'],
  ['^libcrypto\\.so(\\.|$)', 'crypto'],
  ['^libcurl(-gnutls|-nss)?\\.so(\\.|$)', 'http_stack'],
  ['^libsystem\\.security\\.cryptography\\.native\\.openssl\\.so$', 'managed_tls'],
  ['^libsystem\\.net\\.security\\.native\\.so$', 'managed_tls'],
  // macOS
  ['^libssl\\.[0-9.]*dylib$', 'tls_stack'],
  ['^libcrypto\\.[0-9.]*dylib$', 'crypto'],
  ['^libcoretls(_cfhelpers)?\\.dylib$', 'tls_stack'],
  ['^libnss3\\.dylib$', 'tls_stack'],
  // Windows: TLS providers
  ['^schannel\\.dll$', 'tls_stack'],
  ['^ncryptsslp\\.dll$', 'tls_stack'],
  // Windows: third-party TLS libraries
  ['^libssl(-[0-9_]+)?(-x64)?\\.dll$', 'tls_stack'],
  ['^ssleay32\\.dll$', 'tls_stack'],
  ['^nss3\\.dll$', 'tls_stack'],
  ['^ssl3\\.dll$', 'tls_stack'],
  ['^libgnutls(-[0-9]+)?\\.dll$', 'tls_stack'],
  ['^mbedtls\\.dll$', 'tls_stack'],
  ['^wolfssl\\.dll$', 'tls_stack'],
  ['^libcrypto(-[0-9_]+)?(-x64)?\\.dll$', 'crypto'],
  ['^libeay32\\.dll$', 'crypto'],
  ['^nspr4\\.dll$', 'crypto'],
  ['^libcurl(-x64)?\\.dll$', 'http_stack'],
  // Windows: SSPI and crypto
  ['^(secur32|sspicli|crypt32|cryptnet|wintrust|ncrypt|bcrypt|bcryptprimitives|rsaenh|cryptsp|cryptbase|dpapi)\\.dll$', 'crypto'],
  // Windows: HTTP stacks
  ['^(winhttp|wininet|webio|urlmon|iertutil|bitsproxy|msxml3|msxml6|windows\\.web\\.http)\\.dll$', 'http_stack'],
  // Windows: managed runtimes
  ['^system\\.net(\\.http|\\.security)?\\.dll$', 'managed_tls'],
  // Windows: sockets and DNS, context only
  ['^(ws2_32|mswsock|dnsapi|iphlpapi|winnsi|rasadhlp|fwpuclnt)\\.dll$', 'socket_context'],
];

export class Watchlist {
  private readonly rules: Rule[];
  private readonly memo = new Map<string, TlsCategory | null>();

  constructor(extra: [string, TlsCategory][] = []) {
    this.rules = [...BUILTIN, ...extra].map(([re, category]) => ({ re: new RegExp(re), category }));
  }

  /** The category of a module path (Linux or Windows separators), or null. */
  classify(path: string): TlsCategory | null {
    const base = baseName(path).toLowerCase();
    const memo = this.memo.get(base);
    if (memo !== undefined) return memo;
    let found: TlsCategory | null = null;
    for (const r of this.rules) {
      if (r.re.test(base)) {
        found = r.category;
        break;
      }
    }
    if (this.memo.size > 50_000) this.memo.clear();
    this.memo.set(base, found);
    return found;
  }
}

export function baseName(path: string): string {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return i >= 0 ? path.slice(i + 1) : path;
}

/** Group names of the shared watchlist file → category. */
const FILE_GROUPS: Record<string, TlsCategory> = {
  tls_provider_high_specificity: 'tls_stack',
  sspi_and_crypto_medium: 'crypto',
  http_stack_low_specificity: 'http_stack',
  managed_runtime_tls: 'managed_tls',
  third_party_tls_libraries: 'tls_stack',
  sockets_dns_context_only: 'socket_context',
  shared_libraries: 'tls_stack',
};

/**
 * Names from a watchlist file in the shared format, each as [regexp source,
 * category]. Entries like `libssl.so.1.0.*` or `_ssl.cpython-*.so (Python …)`
 * become anchored patterns; `a / b` alternatives are split.
 */
export function watchlistFileRules(json: unknown): [string, TlsCategory][] {
  const out: [string, TlsCategory][] = [];
  if (!json || typeof json !== 'object') return out;
  for (const os of Object.values(json as Record<string, unknown>)) {
    if (!os || typeof os !== 'object' || Array.isArray(os)) continue;
    for (const [group, entries] of Object.entries(os as Record<string, unknown>)) {
      const category = FILE_GROUPS[group];
      if (!category || !Array.isArray(entries)) continue;
      for (const e of entries) {
        const name = typeof e === 'string' ? e : e && typeof e === 'object' && typeof (e as { name?: unknown }).name === 'string' ? (e as { name: string }).name : null;
        if (!name) continue;
        for (const alt of watchlistNames(name)) {
          const cat: TlsCategory = group === 'shared_libraries' && /crypto|nspr|smime|mbedx509/.test(alt) ? 'crypto' : group === 'shared_libraries' && /curl/.test(alt) ? 'http_stack' : category;
          out.push([`^${alt.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, cat]);
        }
      }
    }
  }
  return out;
}

/** The plain module names in one watchlist entry (`msxml3.dll / msxml6.dll`, `libssl3.so (NSS)`). */
export function watchlistNames(entry: string): string[] {
  return entry
    .split('/')
    .map((s) => s.replace(/\(.*?\)/g, '').trim().toLowerCase())
    .filter((s) => s.length > 0 && !s.includes(' '));
}

export function loadWatchlistFile(path: string): Watchlist {
  return new Watchlist(watchlistFileRules(JSON.parse(readFileSync(path, 'utf8'))));
}
