// The one door to @peculiar/x509: loads reflect-metadata first and binds the library to Node's WebCrypto.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// Node's webcrypto is the standard Crypto the library expects. Its typings name the DOM's `Crypto`,
// which a Node build (lib ES2023, no DOM) does not declare: the cast bridges the type packages only.
x509.cryptoProvider.set(webcrypto as never);

export {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  Extension,
  KeyUsageFlags,
  KeyUsagesExtension,
  Name,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509CertificateGenerator,
} from '@peculiar/x509';
