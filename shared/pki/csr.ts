// A leaf's key and its PKCS#10 request, for a CA that meshlink does not hold (Google CA
// Service): the key is minted here and never leaves meshlink; the CA sees only the request,
// which carries the SANs meshlink decides (the host and the side's URI identity).
import { webcrypto } from 'node:crypto';
import { sideIdentity, type Side } from '../link/names.js';
import type { KeyAlgorithm } from '../link/spec.js';
import { subjectAltName } from './extensions.js';
import { ALGORITHMS } from './keys.js';
import { decodePemBlocks } from './pem.js';
import { x509 } from './x509.js';

export interface CsrRequest {
  link: string;
  host: string;
  side: Side;
  keyAlgorithm: KeyAlgorithm;
}

export interface LeafRequest {
  /** PEM `CERTIFICATE REQUEST`. */
  csr: string;
  /** PKCS#8 PEM: goes with the certificate into the side's credential only. */
  privateKey: string;
}

/** WebCrypto parameters of each algorithm: importing the generated pair, and signing the request. */
function webAlgorithm(algorithm: KeyAlgorithm): { key: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams; sign: webcrypto.EcdsaParams | webcrypto.Algorithm } {
  if (algorithm === 'ECDSA-P256') return { key: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams };
  if (algorithm === 'ECDSA-P384') return { key: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } as webcrypto.EcdsaParams };
  return { key: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, sign: { name: 'RSASSA-PKCS1-v1_5' } };
}

/** The library's request parameters (its key pair type is the DOM's, which a Node build does not declare). */
type RequestParams = Parameters<ReturnType<typeof x509>['Pkcs10CertificateRequestGenerator']['create']>[0];

/**
 * Generates the leaf's key (as minting does) and a request signed with it, subject `CN=<host>`,
 * SANs the host and the side's identity. The pair is imported into WebCrypto (never exported
 * from it), so no KeyObject of the generation job is exported (see keys.ts).
 */
export async function createLeafRequest(req: CsrRequest): Promise<LeafRequest> {
  const { privateKeyPem, spki } = await ALGORITHMS[req.keyAlgorithm].generate();
  const { key, sign } = webAlgorithm(req.keyAlgorithm);
  const [pkcs8] = decodePemBlocks(privateKeyPem, 'PRIVATE KEY') as [Buffer];
  const keys = {
    privateKey: await webcrypto.subtle.importKey('pkcs8', pkcs8, key, false, ['sign']),
    publicKey: await webcrypto.subtle.importKey('spki', spki, key, true, ['verify']),
  };
  const lib = x509();
  const request = await lib.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${req.host}`,
    keys: keys as RequestParams['keys'],
    signingAlgorithm: sign,
    extensions: [new lib.Extension(new Uint8Array(subjectAltName(req.host, sideIdentity(req.host, req.link, req.side))))],
  });
  return { csr: request.toString('pem'), privateKey: privateKeyPem };
}
