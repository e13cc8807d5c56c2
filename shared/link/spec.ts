// The link spec: what a user writes, its schema and defaults, and validation into a LinkSpec.
// Pure: no I/O. Errors name the field (`server.gatewayPort`) and the reason.
import * as z from 'zod';
import { MeshlinkError, type ErrorDetail } from '../errors.js';
import { clusterRefProblem, MAX_CLUSTER_REF_LENGTH } from './cluster-ref.js';
import { formatDuration, parseDuration } from './duration.js';
import { bundleExpiry, readPartnerBundle } from '../pki/partner-bundle.js';
import type { Side } from './names.js';

/** Shortest leaf/CA lifetime accepted: short enough for tests, documented in the README. */
export const MIN_TTL_MS = 60_000;
/**
 * Longest CA lifetime (100 years; a leaf has at most half): minted any time before year 9899 its
 * notAfter still fits X.509's GeneralizedTime (up to 9999-12-31).
 */
export const MAX_TTL_MS = 36_500 * 86_400_000;
export const KEY_ALGORITHMS = ['ECDSA-P256', 'ECDSA-P384', 'RSA-2048', 'RSA-3072', 'RSA-4096'] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];
export const ISTIO_API_VERSIONS = ['networking.istio.io/v1beta1', 'networking.istio.io/v1'] as const;
/** Link names end up inside longer names (`originate-mtls-for-<name>`, `tls-<name>`) that must stay DNS labels. */
export const MAX_NAME_LENGTH = 40;

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const FQDN = /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;
const PERCENT = /^([1-9][0-9]?)%$/;

/** Where a side's gateway runs when the spec names no namespace and none can be discovered. */
export const DEFAULT_GATEWAY_NAMESPACE = 'istio-system';
/** Each side's gateway when the spec does not say: Istio's default egress and ingress gateways. */
export const GATEWAY_DEFAULTS: Record<'client' | 'server', { selector: Record<string, string>; service: string }> = {
  client: { selector: { istio: 'egressgateway' }, service: 'istio-egressgateway' },
  server: { selector: { istio: 'ingressgateway' }, service: 'istio-ingressgateway' },
};

const port = z.number({ error: 'must be a number' }).int('must be a whole number').min(1, 'must be 1 to 65535').max(65535, 'must be 1 to 65535');
const dnsLabel = z.string().regex(DNS1123_LABEL, 'must be a DNS-1123 label: lowercase letters, digits and -, starting and ending with a letter or digit').max(63, 'must be at most 63 characters');
const duration = z.string().refine((s) => parseDuration(s) !== undefined, 'must be a duration such as 90s, 15m, 12h or 30d');
// parseClusterRef's grammar, so nothing the spec accepts fails when a cluster is reached.
const clusterRef = z
  .string({ error: 'must be a cluster reference' })
  .max(MAX_CLUSTER_REF_LENGTH, `must be at most ${MAX_CLUSTER_REF_LENGTH} characters`)
  .superRefine((ref, ctx) => {
    const problem = clusterRefProblem(ref);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, abort: true });
  });
const selector = z
  .record(z.string().regex(LABEL_KEY, 'must be a label key'), z.string().regex(LABEL_VALUE, 'must be a label value'))
  .refine((s) => Object.keys(s).length > 0, 'must have at least one label');

const gateway = (defaults: { selector: Record<string, string>; service: string }) =>
  z
    .strictObject({
      /** Namespace of the gateway pods: where the credential Secret must live. */
      namespace: dnsLabel.default(DEFAULT_GATEWAY_NAMESPACE),
      selector: selector.default(defaults.selector),
      /** The gateway's Kubernetes Service (gets the link's port). */
      service: dnsLabel.default(defaults.service),
    })
    .prefault({});

/** The partner's CA bundle (PEM); judged after the schema (readPartnerBundle), so the message names the fault. */
const caCertificates = z.string({ error: 'is required' });
/** Identities the partner's certificates carry (URI or DNS SANs): pinned, so any certificate of its CA is not enough. */
const subjectAltNames = z
  .array(z.string().min(1, 'must not be empty'), { error: 'is required' })
  .min(1, "must name at least one identity of the partner's certificate (a URI or DNS SAN)");
/** A client the partner runs: it dials our ingress gateway with a certificate of its own CA. */
const externalClient = z.strictObject({ caCertificates, subjectAltNames });
/** A server the partner runs: our egress gateway dials it with a certificate of the link's CA. */
const externalServer = z.strictObject({
  address: z.string({ error: 'is required' }).refine((a) => IPV4.test(a) || FQDN.test(a), 'must be an IPv4 address or a DNS name'),
  port,
  caCertificates,
  subjectAltNames,
});

const linkName = z
  .string({ error: 'is required' })
  .regex(DNS1123_LABEL, 'must be a DNS-1123 label: lowercase letters, digits and -, starting and ending with a letter or digit')
  .max(MAX_NAME_LENGTH, `must be at most ${MAX_NAME_LENGTH} characters`);

const schema = z.strictObject({
  name: linkName,
  host: z.string({ error: 'is required' }).regex(FQDN, 'must be a fully qualified domain name in lowercase, such as mysql.link.example.com'),
  /** `nip.io`: when host is left out, it is `<ingress IPv4>.nip.io` (the walkthrough's convention). */
  hostConvention: z.enum(['nip.io']).optional(),
  protocol: z.enum(['TCP', 'HTTP']).default('TCP'),
  /** An issuer (PUT /issuers/{name}): the link CA is then signed by the organisation's issuing CA. */
  issuer: dnsLabel.optional(),
  istioApiVersion: z.enum(ISTIO_API_VERSIONS).default('networking.istio.io/v1beta1'),
  // `cluster` or `external` on each side (checked in parseLinkSpec, which names the field).
  client: z.strictObject({
    cluster: clusterRef.optional(),
    /** Port the client workloads dial. */
    port: port.optional(),
    /** Mesh-facing port of the egress gateway (sidecar -> egress, ISTIO_MUTUAL). */
    egressPort: port.default(15443),
    gateway: gateway(GATEWAY_DEFAULTS.client),
    external: externalClient.optional(),
  }),
  server: z.strictObject({
    cluster: clusterRef.optional(),
    /** In-cluster destination, e.g. mysql.default.svc.cluster.local. */
    service: z.string({ error: 'is required' }).regex(FQDN, 'must be a fully qualified service name such as mysql.default.svc.cluster.local').optional(),
    port: port.optional(),
    /** Port the ingress gateway exposes; defaults to 10000 + port ("a 1 in front of" 3306). */
    gatewayPort: port.optional(),
    /** Ingress address (IP or DNS name) when it cannot be read from the gateway Service. */
    address: z.string().refine((a) => IPV4.test(a) || FQDN.test(a), 'must be an IPv4 address or a DNS name').optional(),
    gateway: gateway(GATEWAY_DEFAULTS.server),
    external: externalServer.optional(),
  }),
  tls: z
    .strictObject({
      /** Minimum TLS version the ingress Gateway accepts. */
      minProtocolVersion: z.enum(['TLSV1_2', 'TLSV1_3']).default('TLSV1_3'),
    })
    .prefault({}),
  certificates: z
    .strictObject({
      keyAlgorithm: z.enum(KEY_ALGORITHMS).default('ECDSA-P256'),
      leafTtl: duration.default('30d'),
      caTtl: duration.default('365d'),
      /** When to renew: a duration before expiry (`10d`) or a share of the lifetime (`33%`). Default: at two thirds. */
      renewBefore: z.string().refine((s) => parseDuration(s) !== undefined || PERCENT.test(s), 'must be a duration such as 10d or a percentage such as 33%').optional(),
    })
    .prefault({}),
});

export type LinkSpecInput = z.input<typeof schema>;
type Parsed = z.output<typeof schema>;

type Gateway = Parsed['client']['gateway'];
/** A side meshlink provisions in a cluster of its own. */
export interface ClusterClientSpec {
  cluster: string;
  port: number;
  egressPort: number;
  gateway: Gateway;
}
export interface ClusterServerSpec {
  cluster: string;
  service: string;
  port: number;
  gatewayPort: number;
  address?: string;
  gateway: Gateway;
}
export type ExternalClient = z.output<typeof externalClient>;
export type ExternalServer = z.output<typeof externalServer>;

/** A validated spec with every default filled in. A side is in one of our clusters, or the partner's (`external`). */
export interface LinkSpec extends Omit<Parsed, 'client' | 'server' | 'certificates'> {
  client: ClusterClientSpec | { external: ExternalClient };
  server: ClusterServerSpec | { external: ExternalServer };
  certificates: Parsed['certificates'] & { leafTtlMs: number; caTtlMs: number };
}

/** The side a partner runs, if any (at most one: a link with no side of ours has nothing to provision). */
export function externalSide(spec: LinkSpec): Side | undefined {
  return 'external' in spec.server ? 'server' : 'external' in spec.client ? 'client' : undefined;
}

/** The sides meshlink provisions, server first (the order of SIDES). */
export function clusterSides(spec: LinkSpec): Side[] {
  const external = externalSide(spec);
  return (['server', 'client'] as const).filter((side) => side !== external);
}

/** A side's cluster fields; calling it for the partner's side is a bug (callers iterate clusterSides). */
export function clusterSide<S extends Side>(spec: LinkSpec, side: S): S extends 'client' ? ClusterClientSpec : ClusterServerSpec {
  const s = spec[side];
  if ('external' in s) throw new MeshlinkError('internal', `link ${spec.name}: the ${side} side is the partner's, not in a cluster`);
  return s as S extends 'client' ? ClusterClientSpec : ClusterServerSpec;
}

/** The port the client's egress gateway dials: our ingress gateway's, or the partner server's. */
export function serverPort(spec: LinkSpec): number {
  return 'external' in spec.server ? spec.server.external.port : spec.server.gatewayPort;
}

/** The address the client's egress gateway sends to when the spec says: our ingress's, or the partner server's. */
export function serverAddress(spec: LinkSpec): string | undefined {
  return 'external' in spec.server ? spec.server.external.address : spec.server.address;
}

/** How status and listings name the partner's side: the server it runs, or the client's first identity. */
export function partnerName(spec: LinkSpec, side: Side): string {
  const s = spec[side];
  if (!('external' in s)) throw new MeshlinkError('internal', `link ${spec.name}: the ${side} side is in a cluster`);
  return 'address' in s.external ? `${s.external.address}:${s.external.port}` : s.external.subjectAltNames[0]!;
}

/** When the first CA of the partner's bundle (`caCertificates`) expires; undefined if none reads. */
export function partnerCaExpiry(spec: LinkSpec, side: Side): Date | undefined {
  const s = spec[side];
  if (!('external' in s)) return undefined;
  const read = readPartnerBundle(s.external.caCertificates);
  return 'cas' in read ? bundleExpiry(read.cas) : undefined;
}

/** The fields a side takes, by kind: one that holds `external` takes none of the others. */
const CLUSTER_FIELDS: Record<Side, string[]> = {
  client: ['cluster', 'port', 'egressPort', 'gateway'],
  server: ['cluster', 'service', 'port', 'gatewayPort', 'address', 'gateway'],
};
const REQUIRED_CLUSTER_FIELDS: Record<Side, string[]> = { client: ['cluster', 'port'], server: ['cluster', 'service', 'port'] };

/** Which kind each side is, and what the raw input lacks or has too much of for that kind. */
function sideKindDetails(input: unknown): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  const external: Side[] = [];
  for (const side of ['client', 'server'] as const) {
    const raw = valueAt(input, [side]);
    if (raw === null || typeof raw !== 'object') continue; // the schema reports it
    if (valueAt(input, [side, 'external']) !== undefined) {
      external.push(side);
      for (const field of CLUSTER_FIELDS[side]) {
        if (valueAt(input, [side, field]) !== undefined) details.push({ path: `${side}.${field}`, message: `must not be set with ${side}.external (the partner runs this side)` });
      }
    } else {
      for (const field of REQUIRED_CLUSTER_FIELDS[side]) {
        if (valueAt(input, [side, field]) === undefined) details.push({ path: `${side}.${field}`, message: field === 'cluster' ? `is required (or ${side}.external, for a side the partner runs)` : 'is required' });
      }
    }
  }
  if (external.length === 2) details.push({ path: 'client.external', message: 'must not be set with server.external: one side of a link must be in a cluster meshlink provisions' });
  return details;
}

/** The partner's CA bundle of an external side: PEM, readable, only CA certificates. */
function partnerBundleDetails(side: Side, external: { caCertificates: string } | undefined): ErrorDetail[] {
  if (!external) return [];
  const read = readPartnerBundle(external.caCertificates);
  return 'error' in read ? [{ path: `${side}.external.caCertificates`, message: read.error }] : [];
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function pathOf(path: readonly PropertyKey[]): string {
  return path.map(String).join('.') || '(root)';
}

/** Validates a decoded spec (JSON or YAML already parsed); throws invalid-argument with details. */
export function parseLinkSpec(input: unknown): LinkSpec {
  const result = schema.safeParse(input);
  const kinds = sideKindDetails(input);
  if (!result.success || kinds.length > 0) {
    const issues = result.success ? [] : result.error.issues;
    const details: ErrorDetail[] = issues.map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return { path: pathOf([...issue.path, issue.keys[0] ?? '']), message: `unknown field${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}` };
      }
      if (issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined) return { path: pathOf(issue.path), message: 'is required' };
      return { path: pathOf(issue.path), message: issue.message };
    });
    throw new MeshlinkError('invalid-argument', 'invalid link spec', { details: [...details, ...kinds] });
  }
  const p = result.data;
  const details: ErrorDetail[] = [...partnerBundleDetails('client', p.client.external), ...partnerBundleDetails('server', p.server.external)];
  const client = sideOf(p.client);
  const server = p.server.external ? { external: p.server.external } : undefined;
  const gatewayPort = server ? undefined : p.server.gatewayPort ?? (p.server.port! + 10000 <= 65535 ? p.server.port! + 10000 : undefined);
  if (!server && gatewayPort === undefined) {
    details.push({ path: 'server.gatewayPort', message: `is required when server.port + 10000 exceeds 65535` });
  }
  const leafTtlMs = parseDuration(p.certificates.leafTtl)!;
  const caTtlMs = parseDuration(p.certificates.caTtl)!;
  if (leafTtlMs < MIN_TTL_MS) details.push({ path: 'certificates.leafTtl', message: 'must be at least 1m' });
  if (caTtlMs < MIN_TTL_MS) details.push({ path: 'certificates.caTtl', message: 'must be at least 1m' });
  if (caTtlMs > MAX_TTL_MS) details.push({ path: 'certificates.caTtl', message: `must be at most ${formatDuration(MAX_TTL_MS)}, so the certificate's end date can be encoded` });
  if (leafTtlMs > MAX_TTL_MS / 2) details.push({ path: 'certificates.leafTtl', message: `must be at most ${formatDuration(MAX_TTL_MS / 2)} (half the longest CA lifetime)` });
  if (caTtlMs < 2 * leafTtlMs) {
    details.push({ path: 'certificates.caTtl', message: 'must be at least twice certificates.leafTtl, so the CA outlives every leaf it signs' });
  }
  const renewBeforeMs = p.certificates.renewBefore === undefined ? undefined : parseDuration(p.certificates.renewBefore);
  if (renewBeforeMs !== undefined && renewBeforeMs >= leafTtlMs) {
    // Else every leaf would be due the moment it is issued.
    details.push({ path: 'certificates.renewBefore', message: 'must be shorter than certificates.leafTtl (or a percentage such as 33%)' });
  }
  if (!('external' in client) && client.port === (server ? server.external.port : gatewayPort)) {
    // Both ports are on the client's ServiceEntry for the host: Istio rejects duplicates.
    const path = server ? 'server.external.port' : 'server.gatewayPort';
    details.push({ path, message: 'must differ from client.port (both are ports of the host on the client side)' });
  }
  if (details.length > 0) throw new MeshlinkError('invalid-argument', 'invalid link spec', { details });
  const { client: _c, server: _s, ...rest } = p;
  return {
    ...rest,
    client,
    server: server ?? clusterServerOf(p.server, gatewayPort!),
    certificates: { ...p.certificates, leafTtlMs, caTtlMs },
  };
}

/** The parsed client side, of its kind (the fields of the other kind were refused above). */
function sideOf(c: Parsed['client']): LinkSpec['client'] {
  if (c.external) return { external: c.external };
  return { cluster: c.cluster!, port: c.port!, egressPort: c.egressPort, gateway: c.gateway };
}

function clusterServerOf(s: Parsed['server'], gatewayPort: number): ClusterServerSpec {
  const { external: _e, cluster, service, port, ...rest } = s;
  return { ...rest, cluster: cluster!, service: service!, port: port!, gatewayPort };
}

/** True for a value the spec accepts as `name` (for code that looks at a spec before validation). */
export function isLinkName(value: unknown): value is string {
  return linkName.safeParse(value).success;
}

/** Why the spec refuses a value as `name` (undefined: it accepts it). */
export function linkNameProblem(value: unknown): string | undefined {
  return linkName.safeParse(value).error?.issues[0]?.message;
}

/** Why the spec refuses a value as `issuer`, an issuer's name (undefined: it accepts it). */
export function issuerNameProblem(value: unknown): string | undefined {
  return dnsLabel.safeParse(value).error?.issues[0]?.message;
}

/** True for a value the spec accepts as `issuer` (an issuer's name). */
export function isIssuerName(value: unknown): value is string {
  return dnsLabel.safeParse(value).success;
}

/** True for a DNS-1123 label (a namespace or Service name the spec would accept). */
export function isDnsLabel(value: unknown): value is string {
  return dnsLabel.safeParse(value).success;
}

/** True for a value the spec accepts as a gateway `selector`. */
export function isGatewaySelector(value: unknown): value is Record<string, string> {
  return selector.safeParse(value).success;
}

/** True for a value the spec accepts as a `cluster` reference. */
export function isClusterRef(value: unknown): value is string {
  return clusterRef.safeParse(value).success;
}

/** The host the nip.io convention gives an ingress IPv4 address. */
export function nipIoHost(address: string): string | undefined {
  return IPV4.test(address) ? `${address}.nip.io` : undefined;
}

/** The fields that bind certificates: changing them means a new link (HTTP 409). */
export function immutableFieldsChanged(previous: LinkSpec, next: LinkSpec): string[] {
  const changed: string[] = [];
  if (previous.host !== next.host) changed.push('host');
  if (previous.certificates.keyAlgorithm !== next.certificates.keyAlgorithm) changed.push('certificates.keyAlgorithm');
  // Which side the partner runs decides what the link's CA signs and where it lives.
  const kind = externalSide(next);
  if (externalSide(previous) !== kind) changed.push(`${kind ?? externalSide(previous)}.external`);
  return changed;
}

/** The spec as stored and returned: every default explicit, derived fields dropped; parses back to itself. */
export function specDocument(spec: LinkSpec): LinkSpecInput {
  const { leafTtlMs: _leaf, caTtlMs: _ca, ...certificates } = spec.certificates;
  return { ...spec, certificates };
}
