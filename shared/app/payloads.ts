// How secrets are laid out in the store: JSON objects whose keys are the ones Istio's SDS reads
// (`tls.crt`, `tls.key`, `ca.crt`), so store, cluster Secret and credentialName line up and other
// syncers (External Secrets Operator, the Secret Manager CSI driver) can consume the same secrets.
import { MeshlinkError } from '../errors.js';
import type { IssuerBundle } from '../pki/issuer-bundle.js';
import type { CredentialPem, SdsCredential } from '../pki/types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function decodeJson(payload: Uint8Array, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(decoder.decode(payload));
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through: the message below names the secret, never the content
  }
  throw new MeshlinkError('internal', `${what} is not a JSON object`);
}

function stringField(obj: Record<string, unknown>, key: string, what: string): string {
  const v = obj[key];
  if (typeof v !== 'string' || v.length === 0) throw new MeshlinkError('internal', `${what} has no ${key}`);
  return v;
}

export function encodeCredential(credential: SdsCredential): Uint8Array {
  return encoder.encode(JSON.stringify({ 'tls.crt': credential['tls.crt'], 'tls.key': credential['tls.key'], 'ca.crt': credential['ca.crt'] }));
}

export function decodeCredential(payload: Uint8Array, what: string): SdsCredential {
  const obj = decodeJson(payload, what);
  return { 'tls.crt': stringField(obj, 'tls.crt', what), 'tls.key': stringField(obj, 'tls.key', what), 'ca.crt': stringField(obj, 'ca.crt', what) };
}

/**
 * A link CA, and under an issuer what its leaves need with it: the organisation's chain without
 * the root (sent after the link CA in `tls.crt`) and the roots (the peers' `ca.crt`).
 */
export interface SignedLinkCa extends CredentialPem {
  chain?: string;
  roots?: string;
  caPool?: undefined;
}

/**
 * A CA generation of a link under a CA pool (Google CA Service): no CA of the link's own, no key;
 * the pool issues the leaves. `certificate` and `roots` are both the pool's roots when the
 * generation was made: what the leaves chain to and what the peers trust.
 */
export interface PoolGeneration {
  caPool: string;
  certificate: string;
  roots: string;
  privateKey?: undefined;
  chain?: undefined;
}

export type LinkCa = SignedLinkCa | PoolGeneration;

/**
 * A CA is stored with the same key names: no `ca.crt` when it is its own root; under an issuer
 * `ca.crt` holds the roots and `chain.crt` the organisation's chain without them; a pool
 * generation is its roots (`ca.crt`) and the pool (`ca.pool`), no key.
 */
export function encodeCa(ca: LinkCa): Uint8Array {
  if (ca.caPool !== undefined) return encoder.encode(JSON.stringify({ 'ca.crt': ca.roots, 'ca.pool': ca.caPool }));
  return encoder.encode(
    JSON.stringify({ 'tls.crt': ca.certificate, 'tls.key': ca.privateKey, ...(ca.roots ? { 'chain.crt': ca.chain ?? '', 'ca.crt': ca.roots } : {}) }),
  );
}

export function decodeCa(payload: Uint8Array, what: string): LinkCa {
  const obj = decodeJson(payload, what);
  if (obj['ca.pool'] !== undefined) {
    const roots = stringField(obj, 'ca.crt', what);
    return { caPool: stringField(obj, 'ca.pool', what), certificate: roots, roots };
  }
  const ca: SignedLinkCa = { certificate: stringField(obj, 'tls.crt', what), privateKey: stringField(obj, 'tls.key', what) };
  if (obj['ca.crt'] !== undefined) Object.assign(ca, { roots: stringField(obj, 'ca.crt', what), chain: typeof obj['chain.crt'] === 'string' ? obj['chain.crt'] : '' });
  return ca;
}

/** An issuer's validated bundle, with the link CA's key names (`chain.crt`: the chain without the root, issuing CA first). */
export function encodeIssuerBundle(bundle: IssuerBundle): Uint8Array {
  return encoder.encode(
    JSON.stringify({ 'tls.crt': bundle.issuing.certificate, 'tls.key': bundle.issuing.privateKey, 'chain.crt': bundle.chain, 'ca.crt': bundle.root, notAfter: bundle.notAfter.toISOString() }),
  );
}

export function decodeIssuerBundle(payload: Uint8Array, what: string): IssuerBundle {
  const obj = decodeJson(payload, what);
  return {
    issuing: { certificate: stringField(obj, 'tls.crt', what), privateKey: stringField(obj, 'tls.key', what) },
    chain: typeof obj['chain.crt'] === 'string' ? obj['chain.crt'] : '',
    root: stringField(obj, 'ca.crt', what),
    notAfter: new Date(stringField(obj, 'notAfter', what)),
  };
}

export function encodeSpec(input: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(input));
}

export function decodeSpec(payload: Uint8Array, what: string): unknown {
  return decodeJson(payload, what);
}
