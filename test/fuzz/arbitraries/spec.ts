// Near-valid link specs: a valid spec with exactly one field changed (a wrong type, a number out
// of range, a bad or huge duration, a malformed cluster reference, an odd name or host, an
// unknown field, deep nesting, a field removed, a side the partner runs: `external`, valid or
// near-valid), encoded as JSON or YAML.
import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { withField } from '../../support/builders.js';
import { partnerPki } from '../../support/partner-pki.js';

/** One change to a spec: set `path` to `value`, or remove it (`remove`). */
export interface Mutation {
  path: string;
  value?: unknown;
  remove?: boolean;
}

export function mutate<T extends object>(spec: T, m: Mutation): T {
  return withField(spec, m.path, m.remove ? undefined : m.value);
}

/** Nested `depth` levels deep: `{"a":{"a":...}}` or `[[...]]`. */
export function deeplyNested(depth: number, kind: 'object' | 'array'): unknown {
  let v: unknown = 'x';
  for (let i = 0; i < depth; i++) v = kind === 'object' ? { a: v } : [v];
  return v;
}

const wrongType = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 8 }),
  fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 2 }),
  // Deep enough to hurt a recursive reader, shallow enough that block YAML stays under 64 KiB.
  fc.integer({ min: 50, max: 150 }).chain((d) => fc.constantFrom(deeplyNested(d, 'object'), deeplyNested(d, 'array'))),
);

const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?$/);

/** Names: DNS-1123 labels and near misses (case, length, dots, edges, unicode). */
export const oddName = fc.oneof(
  label,
  fc.constantFrom('', '-', 'a-', '-a', 'A', 'my_link', 'my.link', 'é', 'link\u0000', ' mysql', 'mysql ', 'x'.repeat(40), 'x'.repeat(41), 'x'.repeat(64), '1', '0-0'),
  fc.string({ maxLength: 50 }),
);

/** Hosts: FQDNs and near misses. */
export const oddHost = fc.oneof(
  fc.tuple(label, label, fc.constantFrom('com', 'example', 'io')).map(([a, b, c]) => `${a}.${b}.${c}`),
  fc.constantFrom('', 'localhost', 'MYSQL.example.com', 'mysql.example.com.', 'a..b.com', '.a.com', '*.example.com', '10.0.0.1', '[::1]', 'xn--bcher-kva.example', 'bücher.example', `${'a'.repeat(64)}.com`, `${'a.'.repeat(127)}com`, 'a.b.1', 'a_b.example.com', 'a.b.c-'),
  fc.string({ maxLength: 30 }),
);

/** Cluster references: local names, cloud references (well-formed and not), kubeconfig contexts, junk. */
export const oddClusterRef = fc.oneof(
  label,
  fc.constantFrom(
    'projects/x',
    'projects//locations/l/clusters/c',
    'projects/p/locations/l/clusters/',
    'projects/p/locations/l/clusters/c/extra',
    'projects/p/locations/l/nodes/c',
    'projects/p/zones/z/clusters/c',
    'projects/p/locations/l/clusters/c',
    'projects/p/locations/global/memberships/m',
    'projects/123/locations/l/gkeMemberships/m',
    'kubeconfig:',
    'kubeconfig:kind-server',
    'kubeconfig::',
    'projects',
    '..',
    '.',
    'a/../../etc',
    'a:b',
    'a@b',
    '/abs',
    'a b',
    '',
    'x'.repeat(513),
  ),
  fc.string({ maxLength: 20 }),
);

/** Ports: in range, at the edges, out of range, not integers, not numbers. */
export const oddPort = fc.oneof(
  fc.integer({ min: 1, max: 65535 }),
  fc.constantFrom(0, -1, 65536, 1e308, -0, 3306.5, Number.MAX_SAFE_INTEGER + 2, '3306', '', null),
  fc.integer(),
);

/** Durations: valid, at the edges, huge (up to the parser's seven digits), malformed. */
export const oddDuration = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 9_999_999 }), fc.constantFrom('s', 'm', 'h', 'd')).map(([n, u]) => `${n}${u}`),
  fc.constantFrom('0s', '59s', '1m', '90s', '30d', '365d', '9999999d', '10000000d', '1.5h', '1H', ' 1h', '1h ', '1w', '', '30', '-1d', '01d', '1e3s', '33%', '0%', '100%', '99%'),
);

const oddSelector = fc.oneof(
  fc.dictionary(label, label, { minKeys: 1, maxKeys: 3 }),
  fc.constantFrom({}, { '': 'x' }, { 'bad key!': 'v' }, { istio: 'x'.repeat(64) }, { 'a/b/c': 'v' }, { istio: 1 }, { istio: null }, ['istio']),
);

const unknownKey = fc.oneof(fc.constantFrom('nmae', 'Name', 'extra', '__proto__', 'constructor', 'spec', 'metadata'), fc.string({ minLength: 1, maxLength: 10 }));

/** The fields of a spec, each with the values worth trying there. */
const FIELDS: [string, fc.Arbitrary<unknown>][] = [
  ['name', oddName],
  ['host', oddHost],
  ['protocol', fc.constantFrom('TCP', 'HTTP', 'tcp', 'UDP', 'HTTPS', '')],
  ['istioApiVersion', fc.constantFrom('networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3', 'v1')],
  ['hostConvention', fc.constantFrom('nip.io', 'sslip.io', '')],
  ['client.cluster', oddClusterRef],
  ['client.port', oddPort],
  ['client.egressPort', oddPort],
  ['client.gateway.namespace', oddName],
  ['client.gateway.selector', oddSelector],
  ['client.gateway.service', oddName],
  ['server.cluster', oddClusterRef],
  ['server.service', oddHost],
  ['server.port', oddPort],
  ['server.gatewayPort', oddPort],
  ['server.address', fc.oneof(fc.ipV4(), fc.ipV6(), oddHost)],
  ['server.gateway.namespace', oddName],
  ['server.gateway.selector', oddSelector],
  ['server.gateway.service', oddName],
  ['tls.minProtocolVersion', fc.constantFrom('TLSV1_2', 'TLSV1_3', 'TLSV1_1', 'tlsv1_3')],
  // RSA-3072 and RSA-4096 are left out of what may be minted: their keys take seconds each.
  ['certificates.keyAlgorithm', fc.constantFrom('ECDSA-P256', 'ECDSA-P384', 'RSA-2048', 'ECDSA-P521', 'rsa-2048', 'Ed25519')],
  ['certificates.leafTtl', oddDuration],
  ['certificates.caTtl', oddDuration],
  ['certificates.renewBefore', oddDuration],
];

const OBJECT_PATHS = ['', 'client', 'server', 'client.gateway', 'server.gateway', 'tls', 'certificates'];

/**
 * A partner's CA (made by openssl, as a partner would) and a certificate that is no CA, made once
 * on first use: a side a partner runs (`external`) needs a readable CA bundle to be valid input.
 */
let partnerPems: { ca: string; notCa: string } | undefined;
function partnerPemsOnce(): { ca: string; notCa: string } {
  if (!partnerPems) {
    const pki = partnerPki();
    try {
      partnerPems = { ca: pki.ca.pem, notCa: pki.leaf('partner-db', ['URI:spiffe://partner.example/db']).pem };
    } finally {
      pki.remove();
    }
  }
  return partnerPems;
}

const SANS = ['spiffe://partner.example/db'];
/** A side the partner runs, valid: replaces a whole side of a valid spec (one-sided links). */
export const externalSide = {
  client: () => ({ external: { caCertificates: partnerPemsOnce().ca, subjectAltNames: SANS } }),
  server: () => ({ external: { address: '203.0.113.9', port: 5432, caCertificates: partnerPemsOnce().ca, subjectAltNames: SANS } }),
};

const oddPem = fc.oneof(
  fc.constant('ca').map(() => partnerPemsOnce().ca),
  fc.constant('not a CA').map(() => partnerPemsOnce().notCa),
  fc.constantFrom('', 'not a pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
);
const oddSans = fc.oneof(fc.constant(SANS), fc.constantFrom([], [''], ['spiffe://a/b', 'dns.example.com']), fc.array(fc.string({ maxLength: 12 }), { maxLength: 3 }));
const EXTERNAL_FIELDS: Record<'client' | 'server', [string, fc.Arbitrary<unknown>][]> = {
  client: [
    ['caCertificates', oddPem],
    ['subjectAltNames', oddSans],
  ],
  server: [
    ['address', fc.oneof(fc.ipV4(), fc.ipV6(), oddHost)],
    ['port', oddPort],
    ['caCertificates', oddPem],
    ['subjectAltNames', oddSans],
  ],
};

/**
 * A side replaced by one the partner runs (`external`): valid as it is, with one of its fields
 * changed or removed, or `external` set beside the side's cluster fields (which it excludes).
 */
const externalMutation: fc.Arbitrary<Mutation> = fc.constantFrom('client' as const, 'server' as const).chain((side) =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constant(null).map((): Mutation => ({ path: side, value: externalSide[side]() })) },
    {
      weight: 3,
      arbitrary: fc
        .constantFrom(...EXTERNAL_FIELDS[side])
        .chain(([field, values]) => fc.option(values, { nil: undefined, freq: 5 }).map((value) => ({ field, value })))
        .map(({ field, value }): Mutation => ({ path: side, value: withField(externalSide[side](), `external.${field}`, value) })),
    },
    { weight: 1, arbitrary: fc.constant(null).map((): Mutation => ({ path: `${side}.external`, value: externalSide[side]().external })) },
  ),
);

/** One mutation of a spec: a field given an odd value or a wrong type, removed, or an unknown field added. */
export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...FIELDS).chain(([path, values]) => values.map((value) => ({ path, value }))) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...FIELDS.map(([p]) => p), ...OBJECT_PATHS.filter(Boolean)), wrongType).map(([path, value]) => ({ path, value })) },
  { weight: 1, arbitrary: fc.constantFrom(...FIELDS.map(([p]) => p), ...OBJECT_PATHS.filter(Boolean)).map((path) => ({ path, remove: true })) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom(...OBJECT_PATHS), unknownKey, wrongType).map(([at, key, value]) => ({ path: at ? `${at}.${key}` : key, value })),
  },
  // One-sided links: a spec with `external` on a side is valid input too.
  { weight: 2, arbitrary: externalMutation },
);

export type Encoding = 'json' | 'yaml';
export const encoding = fc.constantFrom<Encoding>('json', 'yaml');

export function encodeSpec(doc: unknown, as: Encoding): { contentType: string; body: string } {
  return as === 'json' ? { contentType: 'application/json', body: JSON.stringify(doc) } : { contentType: 'application/yaml', body: toYaml(doc, { aliasDuplicateObjects: false }) };
}
