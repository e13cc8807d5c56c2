// A private key damaged so that only a signature shows it: for the tests of key possession.
/**
 * An EC P-256 PKCS#8 key with the first byte of its private scalar changed, its public key left
 * as it was. OpenSSL writes this key as a fixed 36-byte prefix (48 base64 characters after the
 * armour line), then the scalar.
 */
export function withChangedScalar(pem: string): string {
  const [armour, body] = [pem.slice(0, pem.indexOf('\n') + 1), pem.slice(pem.indexOf('\n') + 1)];
  const der = Buffer.from(body.replace(/-----END [A-Z ]+-----\s*$/, '').replace(/\s/g, ''), 'base64');
  if (der.subarray(0, 36).toString('hex') !== '308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420') throw new Error('not an EC P-256 PKCS#8 key as OpenSSL writes it');
  der[36] = der[36]! ^ 0x01;
  return armour + der.toString('base64').replace(/.{1,64}/g, '$&\n') + pem.slice(pem.indexOf('-----END'));
}
