// Credential Secrets: one object with the three SDS keys, revisioned by source and never by key bytes.
import { describe, expect, it } from 'vitest';
import { isMeshlinkError } from '../../shared/errors.js';
import { ANNOTATION_REVISION, ANNOTATION_SOURCE, credentialName, objectLabels } from '../../shared/link/names.js';
import { renderCredentialSecret } from '../../shared/mesh/render.js';
import { revisionOf } from '../../shared/mesh/revision.js';
import { credential, linkSpec } from './builders.js';

const spec = linkSpec({ client: { gateway: { namespace: 'egress-ns' } }, server: { gateway: { namespace: 'ingress-ns' } } });
const decode = (b64: unknown) => Buffer.from(String(b64), 'base64').toString('utf8');

describe('renderCredentialSecret', () => {
  it.each([
    { side: 'client' as const, namespace: 'egress-ns' },
    { side: 'server' as const, namespace: 'ingress-ns' },
  ])('$side: one kubernetes.io/tls Secret named for the credential, in the gateway namespace, with the three keys', ({ side, namespace }) => {
    const cred = credential();
    const secret = renderCredentialSecret(spec, side, cred, `meshlink-mysql-${side}@3`);
    expect(secret.apiVersion).toBe('v1');
    expect(secret.kind).toBe('Secret');
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(secret.metadata.name).toBe(credentialName('mysql', side));
    expect(secret.metadata.namespace).toBe(namespace);
    expect(secret.metadata.labels).toEqual(objectLabels('mysql', side));
    expect(secret.metadata.annotations?.[ANNOTATION_SOURCE]).toBe(`meshlink-mysql-${side}@3`);
    expect(secret.stringData).toBeUndefined();
    const data = secret.data as Record<string, string>;
    expect(Object.keys(data).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    for (const key of ['ca.crt', 'tls.crt', 'tls.key'] as const) expect(decode(data[key])).toBe(cred[key]);
  });

  it('keeps key material out of metadata', () => {
    const cred = credential();
    const secret = renderCredentialSecret(spec, 'server', cred, 'meshlink-mysql-server@1');
    const meta = JSON.stringify(secret.metadata);
    expect(meta).not.toContain(cred['tls.key']);
    expect(meta).not.toContain(Buffer.from(cred['tls.key']).toString('base64'));
  });

  it('revision does not depend on the key bytes, only on the source', () => {
    const sameSourceA = renderCredentialSecret(spec, 'client', credential(), 'meshlink-mysql-client@3');
    const sameSourceB = renderCredentialSecret(spec, 'client', credential(), 'meshlink-mysql-client@3');
    const nextVersion = renderCredentialSecret(spec, 'client', credential(), 'meshlink-mysql-client@4');
    expect(sameSourceA.data).not.toEqual(sameSourceB.data);
    expect(sameSourceB.metadata.annotations?.[ANNOTATION_REVISION]).toBe(sameSourceA.metadata.annotations?.[ANNOTATION_REVISION]);
    expect(nextVersion.metadata.annotations?.[ANNOTATION_REVISION]).not.toBe(sameSourceA.metadata.annotations?.[ANNOTATION_REVISION]);
  });

  it('the two sides of one link get different revisions for the same source text', () => {
    const cred = credential();
    const client = renderCredentialSecret(spec, 'client', cred, 'v@1');
    const server = renderCredentialSecret(spec, 'server', cred, 'v@1');
    expect(client.metadata.annotations?.[ANNOTATION_REVISION]).not.toBe(server.metadata.annotations?.[ANNOTATION_REVISION]);
  });

  it.each([
    { label: 'rendering with an empty source', run: () => renderCredentialSecret(spec, 'client', credential(), '') },
    {
      label: 'revising a Secret that has no source annotation',
      run: () => revisionOf({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'n' }, data: { 'tls.key': 'eA==' } }),
    },
  ])('refuses $label (its revision could not follow its content)', ({ run }) => {
    let caught: unknown;
    try {
      run();
    } catch (err) {
      caught = err;
    }
    expect(isMeshlinkError(caught, 'internal')).toBe(true);
  });
});
