// KubeConfigs for cluster references: GKE (cluster endpoint + CA, Google access token), fleet
// memberships (Connect gateway URL + token) and kubeconfig contexts. The only file importing
// @google-cloud/container and google-auth-library (both loaded lazily, on first use).
import { KubeConfig } from '@kubernetes/client-node';
import { MeshlinkError } from '../errors.js';
import { connectGatewayUrl, type ClusterRef, type ConnectGatewayOptions } from '../link/cluster-ref.js';
import type { KubeConfigSource } from './kubernetes-target.js';

const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const GOOGLE_USER = 'meshlink-google';

/** The fields of a GKE Cluster meshlink reads (a subset of google.container.v1.ICluster). */
export interface GkeClusterInfo {
  endpoint?: string | null;
  masterAuth?: { clusterCaCertificate?: string | null } | null;
  privateClusterConfig?: { privateEndpoint?: string | null } | null;
  controlPlaneEndpointsConfig?: { dnsEndpointConfig?: { endpoint?: string | null } | null } | null;
}

/** Which GKE control-plane endpoint to call. `dns` uses Google-trusted TLS (no cluster CA). */
export type GkeEndpoint = 'public' | 'private' | 'dns';

export interface CredentialOptions {
  gkeEndpoint?: GkeEndpoint;
  connectGateway?: ConnectGatewayOptions;
  /** kubeconfig file for `kubeconfig:<context>`; default: KUBECONFIG, ~/.kube/config, in-cluster. */
  kubeconfigFile?: string;
  /** Google access token (default: ADC with the cloud-platform scope, cached and refreshed by google-auth-library). */
  getAccessToken?: () => Promise<string>;
  /** GKE getCluster by full name (default: ClusterManagerClient). */
  getCluster?: (name: string) => Promise<GkeClusterInfo>;
}

/** A lazily built, cached KubeConfig for a non-local cluster reference. */
export function kubeConfigSource(cluster: string, ref: Exclude<ClusterRef, { kind: 'local' }>, options: CredentialOptions = {}): KubeConfigSource {
  const token = options.getAccessToken ?? googleAccessToken();
  let pending: Promise<KubeConfig> | undefined;
  const build = async (): Promise<KubeConfig> => {
    switch (ref.kind) {
      case 'gke':
        return gkeKubeConfig(cluster, ref, options.getCluster ?? clusterManagerGetCluster(), token, options.gkeEndpoint);
      case 'fleet':
        return fleetKubeConfig(cluster, ref, token, options.connectGateway);
      case 'kubeconfig':
        return contextKubeConfig(cluster, ref.context, options.kubeconfigFile);
    }
  };
  return () => {
    // Cache success only: a failed lookup is tried again on the next request.
    pending ??= build().catch((err: unknown) => {
      pending = undefined;
      throw err;
    });
    return pending;
  };
}

/** GKE: endpoint and CA from getCluster (needs container.clusters.get and .getCredentials). */
export async function gkeKubeConfig(
  cluster: string,
  ref: Extract<ClusterRef, { kind: 'gke' }>,
  getCluster: (name: string) => Promise<GkeClusterInfo>,
  token: () => Promise<string>,
  endpoint: GkeEndpoint = 'public',
): Promise<KubeConfig> {
  const name = `projects/${ref.project}/locations/${ref.location}/clusters/${ref.cluster}`;
  let info: GkeClusterInfo;
  try {
    info = await getCluster(name);
  } catch (err) {
    throw translateGoogleError(err, `cannot read GKE cluster ${name} (for cluster ${cluster})`);
  }
  const host =
    endpoint === 'dns'
      ? info.controlPlaneEndpointsConfig?.dnsEndpointConfig?.endpoint
      : endpoint === 'private'
        ? info.privateClusterConfig?.privateEndpoint
        : info.endpoint;
  if (!host) throw new MeshlinkError('unavailable', `GKE cluster ${name} has no ${endpoint} endpoint (yet)`);
  const caData = info.masterAuth?.clusterCaCertificate || undefined;
  if (endpoint !== 'dns' && !caData) {
    throw new MeshlinkError('permission-denied', `GKE cluster ${name} returned no CA certificate: the caller needs container.clusters.getCredentials`);
  }
  return tokenKubeConfig(cluster, `https://${host}`, endpoint === 'dns' ? undefined : caData, token);
}

/** Fleet membership through the Connect gateway: Google-trusted TLS, so no cluster CA (unless given). */
export function fleetKubeConfig(
  cluster: string,
  ref: Extract<ClusterRef, { kind: 'fleet' }>,
  token: () => Promise<string>,
  options: ConnectGatewayOptions = {},
): KubeConfig {
  const caData = options.caPem === undefined ? undefined : Buffer.from(options.caPem).toString('base64');
  return tokenKubeConfig(cluster, connectGatewayUrl(ref, options), caData, token);
}

/** A context of a kubeconfig file (or the default chain when `file` is undefined). */
export function contextKubeConfig(cluster: string, context: string, file?: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (file === undefined) kc.loadFromDefault();
    else kc.loadFromFile(file);
  } catch (err) {
    throw new MeshlinkError('permission-denied', `cannot load the kubeconfig${file ? ` ${file}` : ''} for cluster ${cluster}`, { cause: err });
  }
  if (!kc.getContextObject(context)) {
    throw new MeshlinkError('not-found', `the kubeconfig${file ? ` ${file}` : ''} has no context "${context}" (cluster ${cluster})`);
  }
  kc.setCurrentContext(context);
  return kc;
}

/**
 * A KubeConfig whose bearer token is asked for on every request (the token source caches and
 * refreshes it: Google access tokens live about an hour).
 */
export function tokenKubeConfig(cluster: string, server: string, caData: string | undefined, token: () => Promise<string>): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: cluster, server, skipTLSVerify: false, ...(caData ? { caData } : {}) }],
    users: [{ name: GOOGLE_USER }],
    contexts: [{ name: cluster, cluster, user: GOOGLE_USER }],
    currentContext: cluster,
  });
  kc.addAuthenticator({
    isAuthProvider: (user) => user.name === GOOGLE_USER,
    applyAuthentication: async (_user, opts) => {
      let value: string;
      try {
        value = await token();
      } catch (err) {
        throw new MeshlinkError('permission-denied', `cannot get a Google access token for cluster ${cluster}`, { cause: err });
      }
      if (!value) throw new MeshlinkError('permission-denied', `no Google access token for cluster ${cluster}`);
      opts.headers = { ...opts.headers, Authorization: `Bearer ${value}` };
    },
  });
  return kc;
}

/** ADC access tokens, one GoogleAuth per resolver (it caches and refreshes the token). */
export function googleAccessToken(): () => Promise<string> {
  let auth: Promise<{ getAccessToken(): Promise<string | null | undefined> }> | undefined;
  return async () => {
    auth ??= import('google-auth-library').then(({ GoogleAuth }) => new GoogleAuth({ scopes: [CLOUD_PLATFORM_SCOPE] }));
    const token = await (await auth).getAccessToken();
    if (!token) throw new Error('Application Default Credentials gave no access token');
    return token;
  };
}

/** getCluster through a ClusterManagerClient created on first use. */
export function clusterManagerGetCluster(): (name: string) => Promise<GkeClusterInfo> {
  let client: Promise<{ getCluster(req: { name: string }): Promise<[GkeClusterInfo, ...unknown[]]> }> | undefined;
  return async (name) => {
    client ??= import('@google-cloud/container').then(({ ClusterManagerClient }) => new ClusterManagerClient());
    const [cluster] = await (await client).getCluster({ name });
    return cluster;
  };
}

// gRPC status codes of google-gax errors.
const GRPC_NOT_FOUND = 5;
const GRPC_INVALID_ARGUMENT = 3;
const GRPC_TRANSIENT = new Set([4, 8, 14]); // DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE

function translateGoogleError(err: unknown, message: string): MeshlinkError {
  if (err instanceof MeshlinkError) return err;
  const code = (err as { code?: unknown } | undefined)?.code;
  if (code === GRPC_NOT_FOUND) return new MeshlinkError('not-found', message, { cause: err });
  if (code === GRPC_INVALID_ARGUMENT) return new MeshlinkError('invalid-argument', message, { cause: err });
  if (typeof code === 'number' && GRPC_TRANSIENT.has(code)) return new MeshlinkError('unavailable', message, { cause: err });
  // PERMISSION_DENIED, UNAUTHENTICATED and credential lookup failures alike.
  return new MeshlinkError('permission-denied', message, { cause: err });
}
