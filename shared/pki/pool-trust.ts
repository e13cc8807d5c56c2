// What a CA pool's answers mean for a link (Google CA Service issuers): the pool's roots are the
// trust anchor (`ca.crt`), and a side presents its leaf with the chain up to, not including, the
// root (`tls.crt`), as under an imported issuer. Pure: PEM text in, PEM text out.
import { X509Certificate } from 'node:crypto';
import { MeshlinkError } from '../errors.js';
import { joinPemBundle, splitPemBundle } from './inspect.js';

const selfSigned = (pem: string) => {
  const c = new X509Certificate(pem);
  return c.checkIssued(c) && c.verify(c.publicKey);
};

/**
 * The roots of a pool from its CA chains (FetchCaCerts: each chain leaf-to-root), deduplicated:
 * the last certificate of each chain, which must be self-signed (a pool CA whose root CA Service
 * does not give cannot be anchored). A pool without a CA has no root: refused.
 */
export function poolRoots(chains: readonly (readonly string[])[]): string[] {
  const roots = chains.map((chain) => chain.flatMap((pem) => splitPemBundle(pem)).at(-1));
  if (roots.length === 0) throw new MeshlinkError('invalid-argument', 'the CA pool holds no certificate authority', { details: [{ path: 'caPool', message: 'holds no certificate authority (enabled, disabled or staged)' }] });
  for (const root of roots) {
    if (!root || !selfSigned(root)) throw new MeshlinkError('internal', 'a chain of the CA pool does not end in a self-signed root');
  }
  return splitPemBundle(joinPemBundle(roots as string[]));
}

/** A side's `tls.crt` from an issued certificate: the leaf, then its chain without any root. */
export function presentedChain(certificate: string, chain: readonly string[]): string {
  return joinPemBundle([certificate, ...chain.flatMap((pem) => splitPemBundle(pem)).filter((pem) => !selfSigned(pem))]);
}
