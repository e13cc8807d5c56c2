// The pki module's public face: minting link credentials and reading certificates back.
export { mintCa, mintLeaf } from './mint.js';
export { chainsToAny, inspectCertificate, isIssuedBy, joinPemBundle, keyMatchesCertificate, splitPemBundle } from './inspect.js';
export { BACKDATE_MS } from './types.js';
export type { CertificateSummary, CredentialPem, MintCaRequest, MintLeafRequest, SdsCredential } from './types.js';
