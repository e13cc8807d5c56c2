// Bad values that used to pass the schema and reach a certificate or a cluster call: every one is
// a 400 naming its field, decided by the spec alone (cluster references by parseClusterRef's
// grammar, lifetimes bounded by what X.509 can encode and the CA can hold).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMeshlinkError } from '../../shared/errors.js';
import { clusterSide, MAX_TTL_MS, parseLinkSpec } from '../../shared/link/spec.js';
import { MALFORMED_CLUSTER_REFS, specDetails, specInput, withField } from '../support/builders.js';

const MALFORMED_REFS = [...MALFORMED_CLUSTER_REFS, 'kubeconfig: spaced', '-leading-dash'];

describe('cluster references in a spec', () => {
  for (const side of ['client', 'server'] as const) {
    it.each(MALFORMED_REFS)(`refuses ${side}.cluster %j, naming the field`, (ref) => {
      const details = specDetails(withField(specInput(), `${side}.cluster`, ref));
      expect(details).toEqual([{ path: `${side}.cluster`, message: expect.stringMatching(/^must be /) }]);
    });
  }

  it.each(['client-cluster', 'projects/p/locations/l/clusters/c', 'projects/p/zones/z/clusters/c', 'projects/1/locations/global/memberships/m', 'kubeconfig:kind-server'])(
    'accepts %j',
    // clusterSide: since one-sided links, a side is a cluster side or the partner's (`external`).
    (ref) => expect(clusterSide(parseLinkSpec(withField(specInput(), 'client.cluster', ref)), 'client').cluster).toBe(ref),
  );
});

describe('certificate lifetimes in a spec', () => {
  it.each([
    ['a CA lifetime no certificate can encode', { caTtl: '9999999d' }, 'certificates.caTtl', /at most 36500d/],
    ['a leaf lifetime no certificate can encode', { leafTtl: '9999999d', caTtl: '9999999d' }, 'certificates.leafTtl', /at most 18250d/],
    ['a renewBefore as long as the leaf lifetime', { leafTtl: '1d', caTtl: '2d', renewBefore: '1d' }, 'certificates.renewBefore', /shorter than certificates.leafTtl/],
    ['a renewBefore longer than the leaf lifetime', { renewBefore: '31d' }, 'certificates.renewBefore', /shorter than certificates.leafTtl/],
  ])('refuses %s, naming the field', (_label, certificates, path, message) => {
    const details = specDetails(withField(specInput(), 'certificates', certificates));
    expect(details.find((d) => d.path === path)?.message, JSON.stringify(details)).toMatch(message);
  });

  const durationText = fc.tuple(fc.integer({ min: 1, max: 9_999_999 }), fc.constantFrom('s', 'm', 'h', 'd')).map(([n, unit]) => `${n}${unit}`);

  it('accepts only lifetimes whose certificates stay encodable and consistent', () => {
    fc.assert(
      fc.property(durationText, durationText, fc.option(durationText, { nil: undefined }), (leafTtl, caTtl, renewBefore) => {
        let spec;
        try {
          spec = parseLinkSpec(withField(specInput(), 'certificates', { leafTtl, caTtl, ...(renewBefore ? { renewBefore } : {}) }));
        } catch (err) {
          expect(isMeshlinkError(err, 'invalid-argument')).toBe(true);
          return;
        }
        const { leafTtlMs, caTtlMs } = spec.certificates;
        expect(caTtlMs).toBeLessThanOrEqual(MAX_TTL_MS);
        expect(2 * leafTtlMs).toBeLessThanOrEqual(caTtlMs);
        // Minted this century, the CA ends long before GeneralizedTime's last second.
        expect(Date.UTC(2100, 0, 1) + caTtlMs).toBeLessThan(Date.UTC(9999, 11, 31, 23, 59, 59));
      }),
    );
  });
});
