// Minted credentials in a real mutual-TLS handshake over loopback (Node tls = OpenSSL): identities,
// extended key usages, trust per link, and the CA's name constraints.
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { sideIdentity } from '../../shared/link/names.js';
import { mintCa, mintLeaf } from '../../shared/pki/mint.js';
import type { CredentialPem } from '../../shared/pki/types.js';
import { caRequest, HOST, leafRequest, LINK, mintLinkSet } from './fixtures.js';

interface Handshake {
  /** The server certificate's SANs as the client saw them. */
  serverNames: string;
  /** The client certificate's SANs as the server saw them. */
  clientNames: string;
}

const servers: tls.Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/** One mutual-TLS handshake: the server presents `server` and trusts `serverTrusts`; the client likewise. */
async function handshake(o: { server: CredentialPem; serverTrusts: string; client: CredentialPem; clientTrusts: string; servername?: string }): Promise<Handshake> {
  let clientNames = '';
  const server = tls.createServer({ key: o.server.privateKey, cert: o.server.certificate, ca: o.serverTrusts, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (socket) => {
    clientNames = socket.getPeerCertificate().subjectaltname ?? '';
    socket.end('ok');
  });
  server.on('tlsClientError', () => undefined);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return new Promise<Handshake>((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: o.servername ?? HOST, key: o.client.privateKey, cert: o.client.certificate, ca: o.clientTrusts }, () => {
      const serverNames = socket.getPeerCertificate().subjectaltname ?? '';
      socket.on('data', () => undefined);
      socket.on('end', () => resolve({ serverNames, clientNames }));
    });
    socket.on('error', reject);
  });
}

describe('mutual TLS with a minted link set', () => {
  // TLS checks validity against the real clock, so these credentials are minted "now".
  const now = () => new Date();

  it('completes, each side seeing the other side URI identity', async () => {
    const set = await mintLinkSet('ECDSA-P256', { now: now() });
    await expect(handshake({ server: set.server, serverTrusts: set.ca.certificate, client: set.client, clientTrusts: set.ca.certificate })).resolves.toEqual({
      serverNames: `DNS:${HOST}, URI:${sideIdentity(HOST, LINK, 'server')}`,
      clientNames: `DNS:${HOST}, URI:${sideIdentity(HOST, LINK, 'client')}`,
    });
  });

  it('fails when the server presents the client leaf (clientAuth only)', async () => {
    const set = await mintLinkSet('ECDSA-P256', { now: now() });
    await expect(handshake({ server: set.client, serverTrusts: set.ca.certificate, client: set.client, clientTrusts: set.ca.certificate })).rejects.toMatchObject({
      code: 'INVALID_PURPOSE',
    });
  });

  it('fails when the client trusts another link CA', async () => {
    const set = await mintLinkSet('ECDSA-P256', { now: now() });
    const other = await mintLinkSet('ECDSA-P256', { now: now(), link: 'other' });
    await expect(handshake({ server: set.server, serverTrusts: set.ca.certificate, client: set.client, clientTrusts: other.ca.certificate })).rejects.toMatchObject({
      // The server sends its CA along (OpenSSL builds the chain from its trust store).
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
    });
  });

  it('fails for a leaf naming a host outside the name constraints of the CA that signed it', async () => {
    const elsewhere = 'evil.example.com';
    const ca = await mintCa(caRequest({ now: now() }));
    const server = await mintLeaf(leafRequest(ca, 'server', { now: now(), host: elsewhere }));
    const client = await mintLeaf(leafRequest(ca, 'client', { now: now() }));
    await expect(handshake({ server, serverTrusts: ca.certificate, client, clientTrusts: ca.certificate, servername: elsewhere })).rejects.toMatchObject({
      // Node has no code for X509_V_ERR_PERMITTED_VIOLATION: OpenSSL's message says it.
      message: 'permitted subtree violation',
    });
  });
});
