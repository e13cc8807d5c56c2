// Test builders for the mesh tests: a link spec with sensible defaults, and a credential minted at run time.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseLinkSpec, type LinkSpec, type LinkSpecInput } from '../../shared/link/spec.js';
import type { SdsCredential } from '../../shared/pki/types.js';

type Overrides = Partial<Omit<LinkSpecInput, 'client' | 'server'>> & {
  client?: Partial<LinkSpecInput['client']>;
  server?: Partial<LinkSpecInput['server']>;
};

/** The seeds' MySQL link, parsed (defaults filled in); overrides merge one level into client and server. */
export function linkSpec(overrides: Overrides = {}): LinkSpec {
  const { client, server, ...top } = overrides;
  return parseLinkSpec({
    name: 'mysql',
    host: 'mysql.link.example.com',
    ...top,
    client: { cluster: 'client-cluster', port: 3306, ...client },
    server: { cluster: 'server-cluster', service: 'mysql.default.svc.cluster.local', port: 3306, ...server },
  });
}

/**
 * An SDS credential whose key is minted now (no key material is committed). The Secret renderer does
 * not parse PEM, so the certificate and CA texts are unique placeholders.
 */
export function credential(): SdsCredential {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const tag = randomBytes(8).toString('hex');
  return {
    'tls.crt': `certificate ${tag}\n`,
    'tls.key': privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    'ca.crt': `ca bundle ${tag}\n`,
  };
}
