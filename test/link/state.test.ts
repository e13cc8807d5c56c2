// Small derivations of the link state: whether a worker holds the link's lease; which store
// versions the state knows (uses or retires), and retiring more of them.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bundleTrust, knownVersions, leaseHeld, retireVersions, type CaRecord, type LinkState, type RetiredVersion } from '../../shared/link/state.js';

const NOW = new Date('2026-03-01T00:00:00Z');
const state = (lease?: LinkState['lease']) => ({ ...(lease ? { lease } : {}) }) as LinkState;

describe('leaseHeld', () => {
  it.each<[string, LinkState['lease'], boolean]>([
    ['no lease', undefined, false],
    ['a lease running past now', { holder: 'w', until: new Date(NOW.getTime() + 1).toISOString() }, true],
    ['a lease ending exactly now (expired)', { holder: 'w', until: NOW.toISOString() }, false],
    ['a lease that ended before now', { holder: 'w', until: new Date(NOW.getTime() - 60_000).toISOString() }, false],
  ])('%s', (_name, lease, held) => {
    expect(leaseHeld(state(lease), NOW)).toBe(held);
  });
});

describe('knownVersions and retireVersions', () => {
  const version = fc.integer({ min: 1, max: 12 }).map(String);
  const role = fc.constantFrom<RetiredVersion['role']>('ca', 'server', 'client');
  const retiredEntry = fc.record({ role, version, since: fc.constant(NOW.toISOString()), disabled: fc.boolean() });
  const linkState = fc
    .record({
      cas: fc.array(version, { maxLength: 2 }),
      server: fc.option(version, { nil: undefined }),
      client: fc.option(version, { nil: undefined }),
      syncServer: fc.option(version, { nil: undefined }),
      syncClient: fc.option(version, { nil: undefined }),
      retired: fc.uniqueArray(retiredEntry, { selector: (r) => `${r.role}@${r.version}`, maxLength: 6 }),
    })
    .map(
      (x) =>
        ({
          cas: x.cas.map((v, i) => ({ generation: i + 1, version: v })),
          leaves: { ...(x.server ? { server: { version: x.server } } : {}), ...(x.client ? { client: { version: x.client } } : {}) },
          sync: { server: { status: 'synced', ...(x.syncServer ? { version: x.syncServer } : {}) }, client: { status: 'synced', ...(x.syncClient ? { version: x.syncClient } : {}) } },
          ...(x.retired.length > 0 ? { retired: x.retired } : {}),
        }) as unknown as LinkState,
    );
  const key = (r: RetiredVersion) => `${r.role}@${r.version}`;

  it('names what the state uses or retires for the role, and nothing of another role', () => {
    const s = { cas: [{ version: '1' }], leaves: { server: { version: '4' } }, sync: { server: { version: '3' }, client: { version: '2' } }, retired: [{ role: 'server', version: '2', since: '' }, { role: 'client', version: '1', since: '' }] } as unknown as LinkState;
    expect([...knownVersions(s, 'server')].sort()).toEqual(['2', '3', '4']);
    expect([...knownVersions(s, 'client')].sort()).toEqual(['1', '2']);
    expect([...knownVersions(s, 'ca')]).toEqual(['1']);
  });

  it('retires each version once, keeps every entry it had, and is idempotent', () => {
    fc.assert(
      fc.property(linkState, role, fc.array(fc.option(version, { nil: undefined }), { maxLength: 5 }), (s, r, versions) => {
        const next = retireVersions(s, r, versions, NOW);
        const retired = next.retired ?? [];
        expect(new Set(retired.map(key)).size).toBe(retired.length);
        expect(retired.slice(0, s.retired?.length ?? 0)).toEqual(s.retired ?? []);
        for (const v of versions) if (v !== undefined) expect(knownVersions(next, r).has(v)).toBe(true);
        expect(retireVersions(next, r, versions, new Date(NOW.getTime() + 1))).toEqual(next);
      }),
    );
  });
});

describe('bundleTrust: which generations a ca.crt trusts', () => {
  const ca = (generation: number, anchors?: string[]): CaRecord => ({ generation, version: String(generation), notBefore: '', notAfter: '', fingerprint: `ca${generation}`, ...(anchors ? { anchors } : {}) });
  const selfSigned = [ca(1), ca(2), ca(3)];

  it('for self-signed CAs, is each CA whose certificate the bundle holds, in bundle order, whatever was recorded', () => {
    const fingerprint = fc.constantFrom('ca1', 'ca2', 'ca3', 'foreign-a', 'foreign-b');
    fc.assert(
      fc.property(fc.uniqueArray(fingerprint), fc.uniqueArray(fc.constantFrom(1, 2, 3, 4)), (held, recorded) => {
        const expected = held.filter((fp) => fp.startsWith('ca')).map((fp) => Number(fp.slice(2)));
        const { trust, foreign } = bundleTrust(held, selfSigned, recorded);
        expect(new Set(trust)).toEqual(new Set(expected));
        expect(foreign).toBe(held.filter((fp) => fp.startsWith('foreign')).length);
      }),
    );
  });

  it('under an issuer (every generation anchored to one root), is what was recorded for that root', () => {
    const cas = [ca(1, ['root']), ca(2, ['root'])];
    expect(bundleTrust(['root'], cas, [1])).toEqual({ trust: [1], foreign: 0 });
    expect(bundleTrust(['root'], cas, [1, 2])).toEqual({ trust: [1, 2], foreign: 0 });
    // A bundle that is not what was recorded is read for what it holds: here every generation, and one stranger.
    expect(bundleTrust(['root', 'other'], cas, [1])).toEqual({ trust: [1, 2], foreign: 1 });
    expect(bundleTrust([], cas, [1])).toEqual({ trust: [], foreign: 0 });
  });
});
