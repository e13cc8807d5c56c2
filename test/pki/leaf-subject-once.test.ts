// Both leaves of a link have the same subject (CN=<host>): the X.509 library encodes it once per
// host (its ASN.1 serializer costs more than the rest of a leaf's encoding), and a leaf for
// another host gets its own.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mintCa, mintLeaf } from '../../shared/pki/mint.js';
import { inspectCertificate } from '../../shared/pki/inspect.js';
import { caRequest, leafRequest } from './fixtures.js';

/** Names the library was asked to encode, in order. */
const encoded = vi.hoisted(() => ({ names: [] as string[] }));

vi.mock('../../shared/pki/x509.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../shared/pki/x509.js')>();
  return {
    ...original,
    x509: () => {
      const library = original.x509();
      class CountedName extends library.Name {
        override toArrayBuffer(): ArrayBuffer {
          encoded.names.push(this.toString());
          return super.toArrayBuffer();
        }
      }
      return { ...library, Name: CountedName };
    },
  };
});

afterEach(() => {
  encoded.names = [];
});

describe("a link's leaves", () => {
  it('encode their common subject once per host', async () => {
    const host = 'once.link.example.com';
    const ca = await mintCa(caRequest({ host }));
    const server = await mintLeaf(leafRequest(ca, 'server', { host }));
    const client = await mintLeaf(leafRequest(ca, 'client', { host }));
    const other = await mintLeaf(leafRequest(ca, 'server', { host: `x.${host}` }));

    expect(encoded.names).toEqual(['CN=meshlink mysql CA 1, O=meshlink', `CN=${host}`, `CN=x.${host}`]);
    expect([server, client, other].map((leaf) => inspectCertificate(leaf.certificate).subject)).toEqual([`CN=${host}`, `CN=${host}`, `CN=x.${host}`]);
  });
});
