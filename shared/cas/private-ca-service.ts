// CertificateAuthorityService on Google CA Service: the only file that imports
// @google-cloud/security-private-ca. Loaded and connected on first use; its gRPC statuses become
// MeshlinkError codes (grpc-status.ts). The client's own retries are off: a failed issuance is
// retried by the next rotation run (or the HTTP client, on a 503), with a new key.
import type { CertificateAuthorityServiceClient } from '@google-cloud/security-private-ca';
import { MeshlinkError } from '../errors.js';
import { translateGrpcError } from '../grpc-status.js';
import { CA_POOL_NAME, type CertificateAuthorityService, type CertificateRequest, type IssuedCertificate, type PoolCa } from './port.js';
import { LazyClient } from '../lazy-client.js';

type ClientOptions = NonNullable<ConstructorParameters<typeof CertificateAuthorityServiceClient>[0]>;

export interface PrivateCaServiceOptions {
  /** Host only (`privateca.googleapis.com` when absent); the port goes in `port`. */
  apiEndpoint?: string;
  port?: number;
  /** No TLS and no Google credentials: only for a local test server on a loopback address. */
  plaintext?: boolean;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);
const NO_LIBRARY_RETRY = { retry: null };

function requirePool(caPool: string): void {
  if (!CA_POOL_NAME.test(caPool)) throw new MeshlinkError('invalid-argument', `not a CA pool resource name: ${caPool}`);
}

export class PrivateCaService implements CertificateAuthorityService {
  private readonly lazy = new LazyClient(() => this.createClient());

  constructor(private readonly options: PrivateCaServiceOptions = {}) {
    const { apiEndpoint, plaintext } = options;
    if (plaintext && (apiEndpoint === undefined || !LOOPBACK.has(apiEndpoint))) {
      throw new MeshlinkError('invalid-argument', `plaintext CA Service connections are only allowed to a loopback endpoint, not ${apiEndpoint ?? 'the Google endpoint'}`);
    }
  }

  private client(): Promise<CertificateAuthorityServiceClient> {
    return this.lazy.get();
  }

  private async createClient(): Promise<CertificateAuthorityServiceClient> {
    const { CertificateAuthorityServiceClient: Client } = await import('@google-cloud/security-private-ca');
    const { apiEndpoint, port, plaintext } = this.options;
    const options: ClientOptions = {
      ...(apiEndpoint !== undefined ? { apiEndpoint: apiEndpoint === '::1' ? '[::1]' : apiEndpoint } : {}),
      ...(port !== undefined ? { port } : {}),
    };
    if (plaintext) {
      // As for Secret Manager: insecure channel credentials as they are, and an explicit auth
      // client so the library looks for no Application Default Credentials.
      const [{ credentials }, { OAuth2Client }] = await Promise.all([import('@grpc/grpc-js'), import('google-auth-library')]);
      options.sslCreds = credentials.createInsecure();
      // This client's google-gax wants its own google-auth-library's type; any OAuth2Client will do.
      options.authClient = new OAuth2Client() as unknown as NonNullable<ClientOptions['authClient']>;
    }
    return new Client(options);
  }

  private async call<T>(subject: string, work: (client: CertificateAuthorityServiceClient) => Promise<T>): Promise<T> {
    try {
      return await work(await this.client());
    } catch (err) {
      throw translateGrpcError('CA Service', err, subject);
    }
  }

  close(): Promise<void> {
    return this.lazy.close();
  }

  async fetchCaCerts(caPool: string): Promise<string[][]> {
    requirePool(caPool);
    const [response] = await this.call(`fetch CA certificates of ${caPool}`, (client) => client.fetchCaCerts({ caPool }, NO_LIBRARY_RETRY));
    return (response.caCerts ?? []).map((chain) => [...(chain.certificates ?? [])]);
  }

  async listCertificateAuthorities(caPool: string): Promise<PoolCa[]> {
    requirePool(caPool);
    const [cas] = await this.call(`list the CAs of ${caPool}`, (client) => client.listCertificateAuthorities({ parent: caPool }, NO_LIBRARY_RETRY));
    return cas.map((ca) => ({ id: ca.name?.split('/').at(-1) ?? '', enabled: String(ca.state) === 'ENABLED', chain: [...(ca.pemCaCertificates ?? [])] }));
  }

  async createCertificate(caPool: string, request: CertificateRequest): Promise<IssuedCertificate> {
    requirePool(caPool);
    const seconds = Math.floor(request.lifetimeMs / 1000);
    const [certificate] = await this.call(`create certificate ${request.certificateId} in ${caPool}`, (client) =>
      client.createCertificate(
        {
          parent: caPool,
          certificateId: request.certificateId,
          requestId: request.requestId,
          ...(request.issuingCaId ? { issuingCertificateAuthorityId: request.issuingCaId } : {}),
          certificate: { pemCsr: request.csr, lifetime: { seconds, nanos: 0 } },
        },
        NO_LIBRARY_RETRY,
      ),
    );
    if (!certificate.pemCertificate) throw new MeshlinkError('internal', `CA Service returned no certificate for ${request.certificateId} in ${caPool}`);
    return { certificate: certificate.pemCertificate, chain: [...(certificate.pemCertificateChain ?? [])] };
  }
}
