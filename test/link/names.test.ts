// Invariant 6: two links never yield the same name. Names collide only within one kind and
// namespace, so the worst case is checked: both links with both sides in one namespace of one
// cluster, and every object and Service port of each, grouped by kind.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_NAME_LENGTH } from '../../shared/link/spec.js';
import { credentialName, egressServicePortName, issuerSecretId, objectNames, storeSecretId } from '../../shared/link/names.js';
import { portClaimId } from '../../shared/app/port-claim.js';
import { gatewayServicePorts, renderClientObjects, renderCredentialSecret, renderServerObjects } from '../../shared/mesh/render.js';
import type { LinkSpec } from '../../shared/link/spec.js';
import { linkSpec } from '../mesh/builders.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const CREDENTIAL = { 'tls.crt': 'certificate\n', 'tls.key': 'placeholder\n', 'ca.crt': 'ca\n' };

/**
 * Valid link names (DNS-1123 labels of at most 40 characters), built mostly from the words the
 * names themselves are made of, so that a name of one link that ends or starts like another's is
 * tried often rather than by luck.
 */
const WORDS = ['istio', 'egressgateway', 'egress', 'ingress', 'for', 'originate', 'mtls', 'through', 'external', 'meshlink', 'client', 'server', 'tls', 'y', 'a1', '0'];
const linkName = fc
  .array(fc.oneof(fc.constantFrom(...WORDS), fc.stringMatching(/^[a-z0-9]{1,6}$/)), { minLength: 1, maxLength: 6 })
  .map((parts) => parts.join('-'))
  .filter((name) => name.length <= MAX_NAME_LENGTH && DNS1123_LABEL.test(name));

/** A link with both sides in namespace `istio-system` of one cluster, and one gateway Service for both. */
function spec(name: string): LinkSpec {
  return linkSpec({
    name,
    host: `${name}.link.example.com`,
    client: { cluster: 'one', gateway: { service: 'istio-gateway' } },
    server: { cluster: 'one', gateway: { service: 'istio-gateway' } },
  });
}

/** `<kind>/<name>` of every object the link puts in the namespace, and `Service-port/<name>` of its ports there. */
function keys(link: string): string[] {
  const s = spec(link);
  const objects = [
    ...renderClientObjects(s),
    ...renderServerObjects(s),
    renderCredentialSecret(s, 'client', CREDENTIAL, 'source'),
    renderCredentialSecret(s, 'server', CREDENTIAL, 'source'),
  ];
  const ingressPort = gatewayServicePorts(s, 'server').ports.map((p) => `Service-port/${p.name}`);
  return [...objects.map((o) => `${o.kind}/${o.metadata.name}`), ...ingressPort];
}

/** The words the renderer puts around a link name (`ingress`, `meshlink`, `client` ...), read from its output. */
function affixes(): string[] {
  const sentinel = 'x0x';
  const words = keys(sentinel).flatMap((k) => k.slice(k.indexOf('/') + 1).split(sentinel));
  return [...new Set(words.map((w) => w.replace(/^-|-$/g, '')).filter(Boolean))].sort();
}

describe('names of two links never collide (invariant 6)', () => {
  it('no two links made of one core and the renderer\'s own words share a name (exhaustive)', () => {
    // `<pre1>-<core>-<suf1>` against `<pre2>-<core>-<suf2>`: a link name that is another's with the
    // words of a name form added is how joining with `-` collides (`y-ingress`, `istio-egressgateway-y`).
    const words = ['', ...affixes()];
    const cache = new Map<string, Set<string>>();
    const keysOf = (link: string) => cache.get(link) ?? cache.set(link, new Set(keys(link))).get(link)!;
    const join = (...parts: string[]) => parts.filter(Boolean).join('-');
    const collisions: string[] = [];
    for (const core of ['y', 'a-b'])
      for (const pre1 of words) for (const suf1 of words) for (const pre2 of words) for (const suf2 of words) {
        const [a, b] = [join(pre1, core, suf1), join(pre2, core, suf2)];
        if (a === b || a.length > MAX_NAME_LENGTH || b.length > MAX_NAME_LENGTH) continue;
        for (const k of keysOf(a)) if (keysOf(b).has(k)) collisions.push(`${a} and ${b}: ${k}`);
      }
    expect(collisions).toEqual([]);
  });

  it('one link yields each name once per kind', () => {
    fc.assert(
      fc.property(linkName, (link) => {
        const own = keys(link);
        expect(new Set(own).size).toBe(own.length);
      }),
    );
  });

  it('two distinct links share no name of any kind in one namespace', () => {
    fc.assert(
      fc.property(linkName, linkName, (a, b) => {
        fc.pre(a !== b);
        const theirs = new Set(keys(b));
        expect(keys(a).filter((k) => theirs.has(k))).toEqual([]);
      }),
      // The case: `y-ingress`'s client objects and `istio-egressgateway-y`'s server objects.
      { numRuns: 2000, examples: [['y-ingress', 'istio-egressgateway-y']] },
    );
  });

  it.each([
    { case: 'the shortest', link: 'a' },
    { case: 'the longest', link: 'a'.repeat(MAX_NAME_LENGTH) },
    { case: 'a name with a double hyphen', link: 'a--b' },
  ])('every name of $case link name is a valid Kubernetes name (Service port names: DNS-1123 labels)', ({ link }) => {
    const names = objectNames(link);
    for (const name of [names.ingressServicePort, egressServicePortName(65535), names.egressSubset]) {
      expect(name).toMatch(DNS1123_LABEL);
      expect(name.length).toBeLessThanOrEqual(63);
    }
    for (const name of [...Object.values(names), credentialName(link, 'client'), credentialName(link, 'server'), storeSecretId('meshlink', link, 'link')]) {
      expect(name.length).toBeLessThanOrEqual(63);
    }
  });
});

describe('issuer secret ids never collide with link or port-claim ids', () => {
  const ROLES = ['link', 'ca', 'port-claim', 'client', 'server'] as const;
  const issuerName = fc.oneof(fc.constantFrom(...ROLES, 'a-ca', 'x-server'), linkName);

  it('no issuer id is the id of any role of any link, nor a port claim', () => {
    fc.assert(
      fc.property(linkName, issuerName, (link, issuer) => {
        const id = issuerSecretId('meshlink', issuer);
        for (const role of ROLES) expect(storeSecretId('meshlink', link, role)).not.toBe(id);
        expect(id).not.toBe(portClaimId('meshlink', { cluster: link, port: 443 }));
      }),
      // `-issuer-<name>` would collide here: link `issuer` role `ca` and issuer `ca`.
      { numRuns: 2000, examples: [['issuer', 'ca'], ['issuer--a', 'a-ca'], ['issuer', 'port-claim']] },
    );
  });

  it('is a valid store secret id for the longest issuer name', () => {
    expect(issuerSecretId('meshlink', 'a'.repeat(63))).toMatch(/^[A-Za-z0-9_-]{1,255}$/);
  });
});
