// The X.509 extensions meshlink sets, DER-encoded. Fixed ones come from the X.509 library once;
// per-certificate ones are a few bytes written here, because each library extension object costs
// a serialize-and-parse round trip (~0.1-0.5 ms) per certificate. Tests compare both encodings.
import { derTlv } from './der.js';
import { x509, type Extension } from './x509.js';

const encoded = (extension: Extension) => new Uint8Array(extension.rawData);

function encodeFixed() {
  const { BasicConstraintsExtension, ExtendedKeyUsage, ExtendedKeyUsageExtension, KeyUsageFlags, KeyUsagesExtension } = x509();
  return {
    caBasicConstraints: encoded(new BasicConstraintsExtension(true, 0, true)),
    caKeyUsage: encoded(new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true)),
    leafBasicConstraints: encoded(new BasicConstraintsExtension(false, undefined, true)),
    leafKeyUsage: {
      ec: encoded(new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true)),
      /** RSA keys may also encipher (TLS 1.2 RSA key exchange). */
      rsa: encoded(new KeyUsagesExtension(KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment, true)),
    },
    leafExtendedKeyUsage: {
      server: encoded(new ExtendedKeyUsageExtension([ExtendedKeyUsage.serverAuth])),
      client: encoded(new ExtendedKeyUsageExtension([ExtendedKeyUsage.clientAuth])),
    },
  };
}

let fixed: ReturnType<typeof encodeFixed> | undefined;

/** The extensions every CA or every leaf carries, encoded once, on first use (the library loads lazily). */
export function fixedExtensions(): ReturnType<typeof encodeFixed> {
  return (fixed ??= encodeFixed());
}

// DER object identifiers (06 03 55 1d xx: id-ce 2.5.29.xx).
const ID_CE_SUBJECT_KEY_IDENTIFIER = Uint8Array.of(0x06, 0x03, 0x55, 0x1d, 0x0e);
const ID_CE_SUBJECT_ALT_NAME = Uint8Array.of(0x06, 0x03, 0x55, 0x1d, 0x11);
const ID_CE_NAME_CONSTRAINTS = Uint8Array.of(0x06, 0x03, 0x55, 0x1d, 0x1e);
const ID_CE_AUTHORITY_KEY_IDENTIFIER = Uint8Array.of(0x06, 0x03, 0x55, 0x1d, 0x23);
const CRITICAL = Uint8Array.of(0x01, 0x01, 0xff);

// GeneralName tags (RFC 5280 4.2.1.6), context-specific and implicit.
const DNS_NAME = 0x82;
const URI = 0x86;
const IP_ADDRESS = 0x87;

/** Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING }. */
function extension(oid: Uint8Array, critical: boolean, value: Uint8Array): Uint8Array {
  return critical ? derTlv(0x30, oid, CRITICAL, derTlv(0x04, value)) : derTlv(0x30, oid, derTlv(0x04, value));
}

function ia5(tag: number, text: string): Uint8Array {
  return derTlv(tag, new Uint8Array(Buffer.from(text, 'ascii')));
}

export function subjectKeyIdentifier(keyId: Uint8Array): Uint8Array {
  return extension(ID_CE_SUBJECT_KEY_IDENTIFIER, false, derTlv(0x04, keyId));
}

/** AuthorityKeyIdentifier with the keyIdentifier [0] only. */
export function authorityKeyIdentifier(keyId: Uint8Array): Uint8Array {
  return extension(ID_CE_AUTHORITY_KEY_IDENTIFIER, false, derTlv(0x30, derTlv(0x80, keyId)));
}

/** SAN: the host as DNS name and the side's URI identity. */
export function subjectAltName(dnsName: string, uri: string): Uint8Array {
  return extension(ID_CE_SUBJECT_ALT_NAME, false, derTlv(0x30, ia5(DNS_NAME, dnsName), ia5(URI, uri)));
}

/**
 * Name constraints of a link CA (critical): only `host` (and names under it) as DNS name, only
 * URIs whose host is `host`, and no IP address at all (0.0.0.0/0 and ::/0 excluded), so even a
 * leaked CA key cannot vouch for anything outside the link. The library has no class for it.
 */
export function nameConstraints(host: string): Uint8Array {
  const subtree = (generalName: Uint8Array) => derTlv(0x30, generalName);
  const permitted = derTlv(0xa0, subtree(ia5(DNS_NAME, host)), subtree(ia5(URI, host)));
  const excluded = derTlv(0xa1, subtree(derTlv(IP_ADDRESS, new Uint8Array(8))), subtree(derTlv(IP_ADDRESS, new Uint8Array(32))));
  return extension(ID_CE_NAME_CONSTRAINTS, true, derTlv(0x30, permitted, excluded));
}
