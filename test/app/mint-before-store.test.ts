// A minted credential is read back (with the parser every later read uses) before it is stored:
// one that cannot be read leaves the link as it was, no version added, no state changed.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadLink } from '../../shared/app/link-record.js';
import { applyLink } from '../../shared/app/provision.js';
import { forceRotation } from '../../shared/app/rotate.js';
import { MeshlinkError } from '../../shared/errors.js';
import { specInput } from '../support/builders.js';
import { testApp } from '../support/app.js';

/**
 * When set, inspect.ts refuses every certificate it has not read before (a freshly minted one),
 * whether read as PEM or, as the mint reads back what it signs, as DER.
 */
const unreadable = vi.hoisted(() => ({ on: false, seen: new Set<string>() }));

vi.mock('../../shared/pki/inspect.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../shared/pki/inspect.js')>();
  const reading = <T>(key: string, read: () => T): T => {
    if (unreadable.on && !unreadable.seen.has(key)) throw new MeshlinkError('invalid-argument', 'not a readable X.509 certificate');
    unreadable.seen.add(key);
    return read();
  };
  return {
    ...original,
    inspectCertificate: (pem: string) => reading(pem, () => original.inspectCertificate(pem)),
    readCertificate: (der: Uint8Array) => reading(Buffer.from(der).toString('base64'), () => original.readCertificate(der)),
  };
});

afterEach(() => {
  unreadable.on = false;
});

describe('a minted credential that does not read back', () => {
  it('fails a forced CA rotation and leaves the link as it was: no CA version stored, the state unchanged', async () => {
    const app = testApp();
    await applyLink(app.deps, specInput());
    const caId = `${app.deps.settings.secretPrefix}-mysql-ca`;
    const before = { versions: await app.store.listVersions(caId), state: (await loadLink(app.deps, 'mysql'))!.state };
    unreadable.on = true;

    await expect(forceRotation(app.deps, 'mysql', 'ca')).rejects.toMatchObject({ message: 'not a readable X.509 certificate' });

    expect(await app.store.listVersions(caId)).toEqual(before.versions);
    const { lease: _l, updatedAt: _u, forced: _f, requests: _r, ...state } = (await loadLink(app.deps, 'mysql'))!.state;
    const { lease: _bl, updatedAt: _bu, ...was } = before.state;
    expect(state).toEqual(was);
  });

  it('fails a new link and leaves nothing in the store', async () => {
    const app = testApp();
    unreadable.on = true;
    await expect(applyLink(app.deps, specInput())).rejects.toMatchObject({ code: 'invalid-argument' });
    expect((await app.store.listSecrets({ labels: {} })).secrets).toEqual([]);
  });
});
