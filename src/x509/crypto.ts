/**
 * The pkijs crypto engine, and certificate signature checks.
 *
 * pkijs verifies signatures through an `ICryptoEngine`. Its default engine is
 * WebCrypto, which knows neither MD5/SHA-1-with-RSA quirks of old chains, nor
 * explicit EC parameters, nor anything beyond P-256/384/521 — and it is
 * asynchronous per call. `NodeCryptoEngine` keeps pkijs's WebCrypto engine for
 * everything else but answers `verifyWithPublicKey` with `node:crypto`
 * (OpenSSL, the same library Zeek validates with), so a chain gets the same
 * signature verdict in pkijs's `CertificateChainValidationEngine` and in
 * tlsentry's OpenSSL-ordered checks.
 */
import { createPublicKey, verify as nodeVerify, constants, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as pkijs from 'pkijs';
import type * as asn1js from 'asn1js';
import { HASH_OIDS, OID_MGF1, SIGNATURE_ALGORITHMS } from './oids.js';

export type SignatureCheck = 'ok' | 'bad';

const keyCache = new WeakMap<pkijs.PublicKeyInfo, KeyObject | null>();

/** Node KeyObject for a SubjectPublicKeyInfo, or null if OpenSSL cannot decode it. */
export function keyObjectOf(spki: pkijs.PublicKeyInfo, rawDer?: Uint8Array): KeyObject | null {
  let key = keyCache.get(spki);
  if (key !== undefined) return key;
  try {
    const der = rawDer ?? new Uint8Array(spki.toSchema().toBER(false));
    key = createPublicKey({ key: Buffer.from(der.buffer, der.byteOffset, der.byteLength), format: 'der', type: 'spki' });
  } catch {
    key = null;
  }
  keyCache.set(spki, key);
  return key;
}

function hashOfAlgorithmIdentifier(schema: unknown): string | null {
  const { pkijs, asn1js } = libs();
  if (!(schema instanceof asn1js.Sequence)) return null;
  try {
    const alg = new pkijs.AlgorithmIdentifier({ schema });
    return HASH_OIDS.get(alg.algorithmId) ?? null;
  } catch {
    return null;
  }
}

interface PssParams {
  hash: string;
  saltLength: number;
}

/**
 * RSASSA-PSS parameters (RFC 4055). Returns null for anything OpenSSL refuses:
 * a mask generation function other than MGF1, MGF1 without its hash
 * (CVE-2015-3194), an MGF1 hash different from the message hash (not
 * expressible with node:crypto), or a trailer field other than 1.
 */
function pssParams(alg: pkijs.AlgorithmIdentifier): PssParams | null {
  const { pkijs, asn1js } = libs();
  let params: pkijs.RSASSAPSSParams;
  try {
    params =
      alg.algorithmParams instanceof asn1js.Sequence
        ? new pkijs.RSASSAPSSParams({ schema: alg.algorithmParams })
        : new pkijs.RSASSAPSSParams();
  } catch {
    return null;
  }
  const hash = HASH_OIDS.get(params.hashAlgorithm.algorithmId);
  if (!hash) return null;
  if (params.maskGenAlgorithm.algorithmId !== OID_MGF1) return null;
  const mgfParams: unknown = params.maskGenAlgorithm.algorithmParams;
  // Default params (no maskGenAlgorithm in the DER) are an AlgorithmIdentifier object.
  const mgfHash =
    mgfParams instanceof pkijs.AlgorithmIdentifier
      ? HASH_OIDS.get(mgfParams.algorithmId) ?? null
      : hashOfAlgorithmIdentifier(mgfParams);
  if (mgfHash !== hash) return null;
  if (params.trailerField !== 1) return null;
  return { hash, saltLength: params.saltLength };
}

/** Verify `signature` over `data` with `key` under the X.509 signature algorithm `alg`. */
export function verifyWithKey(
  data: Uint8Array,
  signature: Uint8Array,
  alg: pkijs.AlgorithmIdentifier,
  key: KeyObject,
): SignatureCheck {
  const info = SIGNATURE_ALGORITHMS.get(alg.algorithmId);
  if (!info) return 'bad';
  const keyType = key.asymmetricKeyType;
  try {
    switch (info.key) {
      case 'rsa': {
        if (keyType !== 'rsa' && keyType !== 'rsa-pss') return 'bad';
        if (info.hash === null) {
          const pss = pssParams(alg);
          if (!pss) return 'bad';
          return nodeVerify(
            pss.hash,
            data,
            { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength },
            signature,
          )
            ? 'ok'
            : 'bad';
        }
        if (keyType === 'rsa-pss') return 'bad';
        return nodeVerify(info.hash, data, key, signature) ? 'ok' : 'bad';
      }
      case 'ec':
        if (keyType !== 'ec') return 'bad';
        return nodeVerify(info.hash, data, { key, dsaEncoding: 'der' }, signature) ? 'ok' : 'bad';
      case 'dsa':
        if (keyType !== 'dsa') return 'bad';
        return nodeVerify(info.hash, data, { key, dsaEncoding: 'der' }, signature) ? 'ok' : 'bad';
      case 'ed25519':
      case 'ed448':
        if (keyType !== info.key) return 'bad';
        return nodeVerify(null, data, key, signature) ? 'ok' : 'bad';
      default:
        return 'bad';
    }
  } catch {
    // Unsupported digest (MD2, MD4), malformed signature encoding, …
    return 'bad';
  }
}

/** Does the SPKI key family match what the signature algorithm needs (OpenSSL's `check_sig_alg_match`)? */
export function signatureMatchesKey(alg: pkijs.AlgorithmIdentifier, key: KeyObject | null): boolean {
  if (!key) return false;
  const info = SIGNATURE_ALGORITHMS.get(alg.algorithmId);
  if (!info) return false;
  const t = key.asymmetricKeyType;
  switch (info.key) {
    case 'rsa':
      return t === 'rsa' || t === 'rsa-pss';
    default:
      return t === info.key;
  }
}

interface Libs {
  readonly pkijs: typeof pkijs;
  readonly asn1js: typeof asn1js;
  /** The engine used for every pkijs call in src/x509 (set as pkijs's engine when pkijs loads). */
  readonly engine: pkijs.CryptoEngine;
}

let loaded: Libs | null = null;

/**
 * pkijs and asn1js, loaded on first use: a run that never meets a
 * certificate (TLS 1.3 traffic, --no-x509) does not pay for loading them
 * (~35 ms). Same module instances as a static import would give.
 */
export function libs(): Libs {
  if (loaded !== null) return loaded;
  const load = createRequire(import.meta.url);
  const pkijsLib = load('pkijs') as typeof pkijs;
  const asn1Lib = load('asn1js') as typeof asn1js;
  /**
   * pkijs engine whose signature verification is done by node:crypto; every
   * other operation stays on WebCrypto.
   */
  class NodeCryptoEngine extends pkijsLib.CryptoEngine {
    override async verifyWithPublicKey(
      data: ArrayBuffer | ArrayBufferView,
      signature: asn1js.BitString | asn1js.OctetString,
      publicKeyInfo: pkijs.PublicKeyInfo,
      signatureAlgorithm: pkijs.AlgorithmIdentifier,
    ): Promise<boolean> {
      const key = keyObjectOf(publicKeyInfo);
      if (!key) return false;
      const bytes =
        data instanceof ArrayBuffer
          ? new Uint8Array(data)
          : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      return verifyWithKey(bytes, signature.valueBlock.valueHexView, signatureAlgorithm, key) === 'ok';
    }
  }
  const engine = new NodeCryptoEngine({ name: 'nodeEngine', crypto: globalThis.crypto });
  pkijsLib.setEngine('nodeEngine', engine);
  loaded = { pkijs: pkijsLib, asn1js: asn1Lib, engine };
  return loaded;
}
