// A wire-level fake of Google CA Service v1 (CertificateAuthorityService): a real gRPC server on
// loopback built from the .proto files @google-cloud/security-private-ca ships, so the adapter is
// tested through the real client and wire format. Each pool holds CAs minted at run time (a
// self-signed root and an issuing CA under it, ECDSA P-256); CreateCertificate really signs the
// CSR with the issuing CA: the CSR's subject and SANs (the pool's passthrough policy), the asked
// lifetime clamped into the CA's (as CA Service does), and the pool's baseline extensions
// (serverAuth and clientAuth). Failures as CA Service answers them: NOT_FOUND (no such pool),
// PERMISSION_DENIED (a pool the caller may not use), RESOURCE_EXHAUSTED (the pool's issuance
// quota), INVALID_ARGUMENT (a bad id, lifetime or CSR), ALREADY_EXISTS (a certificate id reused).
// Not implemented: templates, issuance policies beyond the above, revocation, CA lifecycle RPCs.
import { randomBytes, webcrypto } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { systemClock, type Clock } from '../../shared/clock.js';
import { x509 } from '../../shared/pki/x509.js';
import { fail, loadService, startGrpcFake, type GrpcFake, type Request } from './grpc-fake.js';

const SERVICE = 'google.cloud.security.privateca.v1.CertificateAuthorityService';
const CERTIFICATE_ID = /^[A-Za-z0-9_-]{1,63}$/;
const KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

interface FakeCa {
  /** false: DISABLED (listed, issues nothing). */
  enabled?: boolean;
  root: string;
  issuing: string;
  issuingCert: ReturnType<typeof certificateOf>;
  issuingKey: CryptoKey;
}

interface Pool {
  cas: FakeCa[];
  /** Index in `cas` of the CA that issues unless the request names one (CA Service load-balances among enabled CAs). */
  issuer: number;
  /** Certificates left before RESOURCE_EXHAUSTED (undefined: no limit). */
  quota?: number;
  /** Callers are refused (IAM: no privateca.certificates.create / caPools.get). */
  denied?: boolean;
  /** SAN passthrough off: the issued certificate carries no SAN of the CSR. */
  dropSans?: boolean;
}

export interface FakeCas extends GrpcFake {
  /** Creates a pool with one CA (a root and an issuing CA under it), valid from now for `days` (default 3650). */
  addPool(name: string, options?: { days?: number }): Promise<void>;
  /** Adds a CA under a new root to the pool; `issue: true` makes it the one that issues. */
  addCa(name: string, options?: { issue?: boolean; days?: number }): Promise<FakeCa>;
  pool(name: string): Pool;
  /** Certificates issued, by full name. */
  issued: Map<string, { pem: string; lifetimeSeconds: number }>;
}

function certificateOf(pem: string) {
  return new (x509().X509Certificate)(pem);
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) || 1;
  return bytes.toString('hex');
}

async function mintPoolCa(now: Date, days: number, label: string): Promise<FakeCa> {
  const lib = x509();
  const notBefore = new Date(now.getTime() - 60_000);
  const notAfter = new Date(now.getTime() + days * DAY);
  const rootKeys = (await webcrypto.subtle.generateKey(KEY, false, ['sign', 'verify'])) as CryptoKeyPair;
  const root = await lib.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=Fake CAS Root ${label}, O=Example Bank`,
    notBefore,
    notAfter,
    keys: rootKeys,
    signingAlgorithm: SIGN,
    extensions: [new lib.BasicConstraintsExtension(true, undefined, true), new lib.KeyUsagesExtension(lib.KeyUsageFlags.keyCertSign | lib.KeyUsageFlags.cRLSign, true), await lib.SubjectKeyIdentifierExtension.create(rootKeys.publicKey)],
  });
  const issuingKeys = (await webcrypto.subtle.generateKey(KEY, false, ['sign', 'verify'])) as CryptoKeyPair;
  const issuing = await lib.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=Fake CAS Issuing CA ${label}, O=Example Bank`,
    issuer: root.subject,
    notBefore,
    notAfter: new Date(notAfter.getTime() - DAY),
    publicKey: issuingKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: SIGN,
    extensions: [
      new lib.BasicConstraintsExtension(true, 0, true),
      new lib.KeyUsagesExtension(lib.KeyUsageFlags.keyCertSign | lib.KeyUsageFlags.cRLSign, true),
      await lib.SubjectKeyIdentifierExtension.create(issuingKeys.publicKey),
      await lib.AuthorityKeyIdentifierExtension.create(root),
    ],
  });
  return { root: root.toString('pem') + '\n', issuing: issuing.toString('pem') + '\n', issuingCert: issuing, issuingKey: issuingKeys.privateKey };
}

const seconds = (d: { seconds?: string | number } | null | undefined) => Number(d?.seconds ?? 0);

export async function startFakeCas(options: { clock?: Clock } = {}): Promise<FakeCas> {
  const clock = options.clock ?? systemClock;
  const pools = new Map<string, Pool>();
  const issued = new Map<string, { pem: string; lifetimeSeconds: number }>();
  const byRequestId = new Map<string, unknown>();
  let labels = 0;

  function poolFor(name: string, permission: string): Pool {
    const pool = pools.get(name);
    // CA Service answers PERMISSION_DENIED before NOT_FOUND when IAM refuses: a denied pool is told first.
    if (pool?.denied) throw fail(grpc.status.PERMISSION_DENIED, `Permission '${permission}' denied on resource '${name}' (or it may not exist).`);
    if (!pool) throw fail(grpc.status.NOT_FOUND, `Resource '${name}' was not found`);
    return pool;
  }

  async function sign(pool: Pool, issuer: number, csrPem: string, lifetimeSeconds: number): Promise<{ pem: string; chain: string[] }> {
    const lib = x509();
    let csr;
    try {
      csr = new lib.Pkcs10CertificateRequest(csrPem);
    } catch {
      throw fail(grpc.status.INVALID_ARGUMENT, 'pem_csr is not a PEM certificate signing request');
    }
    if (!(await csr.verify())) throw fail(grpc.status.INVALID_ARGUMENT, 'the CSR signature does not verify');
    const ca = pool.cas[issuer]!;
    const now = clock();
    // CA Service truncates a lifetime the issuing CA does not cover.
    const notAfter = new Date(Math.min(now.getTime() + lifetimeSeconds * 1000, ca.issuingCert.notAfter.getTime()));
    const san = csr.extensions.find((e) => e.type === '2.5.29.17'); // subjectAltName
    const cert = await lib.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: csr.subject,
      issuer: ca.issuingCert.subject,
      notBefore: now,
      notAfter,
      publicKey: csr.publicKey,
      signingKey: ca.issuingKey,
      signingAlgorithm: SIGN,
      extensions: [
        new lib.BasicConstraintsExtension(false, undefined, true),
        new lib.KeyUsagesExtension(lib.KeyUsageFlags.digitalSignature | lib.KeyUsageFlags.keyEncipherment, true),
        new lib.ExtendedKeyUsageExtension([lib.ExtendedKeyUsage.serverAuth, lib.ExtendedKeyUsage.clientAuth]),
        await lib.AuthorityKeyIdentifierExtension.create(ca.issuingCert),
        ...(san && !pool.dropSans ? [san] : []),
      ],
    });
    return { pem: cert.toString('pem') + '\n', chain: [ca.issuing, ca.root] };
  }

  const fake = await startGrpcFake(loadService('@google-cloud/security-private-ca', 'google/cloud/security/privateca/v1/service.proto', SERVICE), {
    FetchCaCerts: (req: Request) => {
      const pool = poolFor(req.caPool, 'privateca.caPools.get');
      return { caCerts: pool.cas.map((ca) => ({ certificates: [ca.issuing, ca.root] })) };
    },
    ListCertificateAuthorities: (req: Request) => {
      const pool = poolFor(req.parent, 'privateca.certificateAuthorities.list');
      return {
        certificateAuthorities: pool.cas.map((ca, i) => ({ name: `${req.parent}/certificateAuthorities/ca-${i + 1}`, state: ca.enabled === false ? 'DISABLED' : 'ENABLED', pemCaCertificates: [ca.issuing, ca.root] })),
        nextPageToken: '',
      };
    },
    CreateCertificate: async (req: Request) => {
      const pool = poolFor(req.parent, 'privateca.certificates.create');
      const chosen = req.issuingCertificateAuthorityId ? Number(/^ca-(\d+)$/.exec(req.issuingCertificateAuthorityId)?.[1]) - 1 : undefined;
      if (chosen !== undefined && !pool.cas[chosen]) throw fail(grpc.status.NOT_FOUND, `Resource '${req.parent}/certificateAuthorities/${req.issuingCertificateAuthorityId}' was not found`);
      if (chosen !== undefined && pool.cas[chosen]!.enabled === false) throw fail(grpc.status.FAILED_PRECONDITION, `certificate authority ${req.issuingCertificateAuthorityId} is not enabled`);
      if (req.requestId && byRequestId.has(req.requestId)) return byRequestId.get(req.requestId);
      if (!CERTIFICATE_ID.test(req.certificateId)) throw fail(grpc.status.INVALID_ARGUMENT, `certificate_id ${JSON.stringify(req.certificateId)} must match [a-zA-Z0-9_-]{1,63}`);
      const name = `${req.parent}/certificates/${req.certificateId}`;
      if (issued.has(name)) throw fail(grpc.status.ALREADY_EXISTS, `Resource '${name}' already exists`);
      const certificate = req.certificate ?? {};
      const lifetime = seconds(certificate.lifetime);
      if (lifetime <= 0) throw fail(grpc.status.INVALID_ARGUMENT, 'certificate.lifetime is required');
      if (certificate.certificateConfig !== 'pemCsr') throw fail(grpc.status.INVALID_ARGUMENT, 'this fake issues from pem_csr only');
      if (pool.quota !== undefined) {
        if (pool.quota <= 0) throw fail(grpc.status.RESOURCE_EXHAUSTED, `Quota exceeded for quota metric 'Certificate issuance requests' on ${req.parent}`);
        pool.quota -= 1;
      }
      const { pem, chain } = await sign(pool, chosen ?? pool.issuer, certificate.pemCsr, lifetime);
      issued.set(name, { pem, lifetimeSeconds: lifetime });
      const response = { name, pemCsr: certificate.pemCsr, lifetime: certificate.lifetime, pemCertificate: pem, pemCertificateChain: chain, issuerCertificateAuthority: `${req.parent}/certificateAuthorities/ca-${(chosen ?? pool.issuer) + 1}` };
      if (req.requestId) byRequestId.set(req.requestId, response);
      return response;
    },
  });

  return {
    ...fake,
    issued,
    async addPool(name, opts = {}) {
      pools.set(name, { cas: [await mintPoolCa(clock(), opts.days ?? 3650, String(++labels))], issuer: 0 });
    },
    async addCa(name, opts = {}) {
      const pool = pools.get(name);
      if (!pool) throw new Error(`no pool ${name}`);
      const ca = await mintPoolCa(clock(), opts.days ?? 3650, String(++labels));
      pool.cas.push(ca);
      if (opts.issue) pool.issuer = pool.cas.length - 1;
      return ca;
    },
    pool(name) {
      const pool = pools.get(name);
      if (!pool) throw new Error(`no pool ${name}`);
      return pool;
    },
  };
}
