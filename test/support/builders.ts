// Builders for test inputs: a valid link spec, changed field by field.
import { isMeshlinkError } from '../../shared/errors.js';
import { parseLinkSpec, type LinkSpecInput } from '../../shared/link/spec.js';
import { joinPemBundle } from '../../shared/pki/inspect.js';
import { mintCa } from '../../shared/pki/mint.js';

export function specInput(overrides: Partial<Record<string, unknown>> = {}, name = 'mysql'): LinkSpecInput & Record<string, unknown> {
  return {
    name,
    host: `${name}.link.example.com`,
    client: { cluster: 'client-cluster', port: 3306 },
    server: { cluster: 'server-cluster', service: 'mysql.default.svc.cluster.local', port: 3306 },
    ...overrides,
  } as LinkSpecInput & Record<string, unknown>;
}

/** Sets a dotted path on a deep copy: `withField(spec, 'server.gatewayPort', 70000)`. */
export function withField<T extends object>(obj: T, path: string, value: unknown): T {
  const copy = structuredClone(obj) as Record<string, unknown>;
  const parts = path.split('.');
  let cur = copy;
  for (const p of parts.slice(0, -1)) {
    cur[p] = { ...((cur[p] as Record<string, unknown>) ?? {}) };
    cur = cur[p] as Record<string, unknown>;
  }
  const last = parts[parts.length - 1]!;
  if (value === undefined) delete cur[last];
  else cur[last] = value;
  return copy as T;
}

/** The details of the 400 a spec gets; fails the test when the spec is accepted. */
export function specDetails(input: unknown): { path: string; message: string }[] {
  try {
    parseLinkSpec(input);
  } catch (err) {
    if (isMeshlinkError(err, 'invalid-argument')) return err.details;
    throw err;
  }
  throw new Error('spec was accepted');
}

/** Cluster references older code accepted and no cluster call can use (parseClusterRef refuses them). */
export const MALFORMED_CLUSTER_REFS = [
  'projects/x',
  'projects/x/locations/l/clusters/',
  'projects//locations/l/clusters/c',
  'projects/p/locations/l/nodes/n',
  'projects/p/locations/l/clusters/c/extra',
  'projects/p/zones//clusters/c',
  'kubeconfig:',
];

/** A spec over the store's annotation budget (app/stored-spec.ts): a partner server with a bundle of eight CAs, current at `now`. */
export async function largeSpecInput(now: Date): Promise<LinkSpecInput & Record<string, unknown>> {
  const cas = await Promise.all(Array.from({ length: 8 }, (_, i) => mintCa({ link: `partner${i}`, host: 'partner.example', keyAlgorithm: 'ECDSA-P256', ttlMs: 300 * 86_400_000, now, generation: 1 })));
  return specInput({ server: { external: { address: '203.0.113.9', port: 5432, caCertificates: joinPemBundle(cas.map((c) => c.certificate)), subjectAltNames: ['spiffe://partner.example/db'] } } });
}
