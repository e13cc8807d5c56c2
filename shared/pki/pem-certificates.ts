// The certificates of a PEM text as node:crypto reads them, for the bundle readers (an issuer's,
// a partner's): each refusal names the certificate by its place in the text.
import { X509Certificate } from 'node:crypto';
import { MeshlinkError } from '../errors.js';
import { decodePemBlocks } from './pem.js';

/** Every CERTIFICATE block, read; a malformed block or an unreadable certificate is an `invalid-argument` naming it. */
export function readPemCertificates(text: string): X509Certificate[] {
  return decodePemBlocks(text, 'CERTIFICATE').map((der, i) => {
    try {
      return new X509Certificate(der);
    } catch (cause) {
      throw new MeshlinkError('invalid-argument', `certificate ${i + 1} is not a readable X.509 certificate`, { cause });
    }
  });
}

/** A certificate's subject on one line: `CN=x, O=y`. */
export const subjectOf = (c: X509Certificate): string => c.subject.split('\n').join(', ');
