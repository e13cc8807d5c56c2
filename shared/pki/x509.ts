// The one door to @peculiar/x509, opened on first use: loads reflect-metadata first and binds the
// library to Node's WebCrypto. Lazy because loading it (with tsyringe and the ASN.1 schemas) costs
// about a quarter of a second of every cold start, and only minting and reading certificates need
// it: GET /healthz, listings and the event functions on links not due never load it.
import { webcrypto } from 'node:crypto';
import type * as X509 from '@peculiar/x509';
import { requireLibrary } from '../require-library.js';

export type { Extension, X509Certificate } from '@peculiar/x509';

let library: typeof X509 | undefined;

/** The library, loaded (synchronously, its CommonJS build) on the first call. */
export function x509(): typeof X509 {
  if (!library) {
    requireLibrary('reflect-metadata');
    const loaded = requireLibrary<typeof X509>('@peculiar/x509');
    // Node's webcrypto is the standard Crypto the library expects. Its typings name the DOM's
    // `Crypto`, which a Node build (lib ES2023, no DOM) does not declare: the cast bridges the types.
    loaded.cryptoProvider.set(webcrypto as never);
    library = loaded;
  }
  return library;
}
