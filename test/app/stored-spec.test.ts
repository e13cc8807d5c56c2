// Where a link's spec is kept: the link secret's annotation when it fits (read with the link's
// metadata, no payload read), a version when it does not (a partner's large CA bundle), and a
// version for links stored by older code, read and replaced as before.
import { describe, expect, it } from 'vitest';
import { applyLink } from '../../shared/app/provision.js';
import { getLink } from '../../shared/app/queries.js';
import { forceRotation } from '../../shared/app/rotate.js';
import { loadLink } from '../../shared/app/link-record.js';
import { SPEC_ANNOTATION_BYTES } from '../../shared/app/stored-spec.js';
import { encodeSpec } from '../../shared/app/payloads.js';
import { ANNOTATION_SPEC, encodeState } from '../../shared/link/state.js';
import { parseLinkSpec, specDocument } from '../../shared/link/spec.js';
import { splitPemBundle } from '../../shared/pki/inspect.js';
import { storeWrites, testApp, type TestApp } from '../support/app.js';
import { largeSpecInput, specInput } from '../support/builders.js';

const LINK_SECRET = 'meshlink-mysql-link';

/** Counts payload reads of the link secret (its spec versions) from now on. */
function countSpecReads(app: TestApp): () => number {
  let reads = 0;
  const access = app.memory.accessVersion.bind(app.memory);
  app.memory.accessVersion = (id, version) => {
    if (id === LINK_SECRET) reads++;
    return access(id, version);
  };
  return () => reads;
}

describe('a spec that fits the annotation', () => {
  it('is stored with the state, in no version, and read back with no payload read by GET, a rotation and a re-apply', async () => {
    const app = testApp();
    await applyLink(app.deps, specInput());
    const meta = await app.memory.getSecret(LINK_SECRET);
    expect(JSON.parse(meta.annotations[ANNOTATION_SPEC]!)).toEqual(specDocument(parseLinkSpec(specInput())));
    expect(await app.memory.listVersions(LINK_SECRET)).toEqual([]);
    const specReads = countSpecReads(app);
    expect((await getLink(app.deps, 'mysql')).name).toBe('mysql');
    await forceRotation(app.deps, 'mysql', 'leaf');
    const writes = storeWrites(app.store);
    expect((await applyLink(app.deps, specInput())).created).toBe(false);
    expect(storeWrites(app.store)).toBe(writes);
    expect(specReads()).toBe(0);
  });
});

describe('a spec over the annotation budget', () => {
  it('is a version of the link secret, read back and replaced by a smaller spec in the annotation', async () => {
    const app = testApp();
    const big = await largeSpecInput(app.clock());
    const first = splitPemBundle((big.server as { external: { caCertificates: string } }).external.caCertificates)[0]!;
    expect(JSON.stringify(specDocument(parseLinkSpec(big))).length).toBeGreaterThan(SPEC_ANNOTATION_BYTES);
    await applyLink(app.deps, big);
    let record = (await loadLink(app.deps, 'mysql'))!;
    expect(record.state.specVersion).toBe('1');
    expect(record.spec).toBeUndefined();
    expect((await getLink(app.deps, 'mysql')).name).toBe('mysql');
    expect((await applyLink(app.deps, big)).created).toBe(false);
    expect(await app.memory.listVersions(LINK_SECRET)).toHaveLength(1);

    const small = specInput({ server: { external: { address: '203.0.113.9', port: 5432, caCertificates: first, subjectAltNames: ['spiffe://partner.example/db'] } } });
    await applyLink(app.deps, small);
    record = (await loadLink(app.deps, 'mysql'))!;
    expect(record.state.specVersion).toBe('');
    expect(JSON.parse(record.spec!)).toEqual(specDocument(parseLinkSpec(small)));
  });
});

describe('a link stored by older code (its spec a version)', () => {
  it('is read, re-applied with no write and updated into the annotation', async () => {
    const app = testApp();
    await applyLink(app.deps, specInput());
    // As older code left it: the spec in version 1, no spec annotation.
    const meta = await app.memory.getSecret(LINK_SECRET);
    const record = (await loadLink(app.deps, 'mysql'))!;
    const version = await app.memory.addVersion(LINK_SECRET, encodeSpec(JSON.parse(record.spec!)));
    const { [ANNOTATION_SPEC]: _spec, ...rest } = meta.annotations;
    await app.memory.updateAnnotations(LINK_SECRET, { ...rest, ...encodeState({ ...record.state, specVersion: version }) }, meta.etag);

    expect((await getLink(app.deps, 'mysql')).name).toBe('mysql');
    const writes = storeWrites(app.store);
    expect((await applyLink(app.deps, specInput())).created).toBe(false);
    expect(storeWrites(app.store)).toBe(writes);
    await applyLink(app.deps, specInput({ client: { cluster: 'client-cluster', port: 3307 } }));
    const updated = (await loadLink(app.deps, 'mysql'))!;
    expect(updated.state.specVersion).toBe('');
    expect(JSON.parse(updated.spec!).client.port).toBe(3307);
    expect((await getLink(app.deps, 'mysql')).client).toMatchObject({ cluster: 'client-cluster' });
  });
});
