// Test helper: validates objects against Istio's official CRD file (the authority), as strictly as the API server.
// Beyond plain JSON Schema it rejects fields the CRD does not declare (the API server prunes or refuses
// them), evaluates the CEL rules the CRDs carry (x-kubernetes-validations) and list-type uniqueness.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { DataValidateFunction } from 'ajv/dist/types/index.js';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../shared/clusters/port.js';
import { canonicalJson } from '../../shared/mesh/revision.js';
import type { ValidationIssue } from '../support/istio-models.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Istio's networking CRDs, vendored (source and version in test/fixtures/istio/README.md). */
export const CRD_FILE = path.resolve(repoRoot, 'test', 'fixtures', 'istio', 'networking-crds.yaml');

type Schema = Record<string, unknown>;

interface CrdVersion {
  name: string;
  served: boolean;
  schema: { openAPIV3Schema: Schema };
}

interface Crd {
  kind: string;
  spec: { group: string; scope: string; names: { kind: string; plural: string }; versions: CrdVersion[] };
}

/** Go's time.ParseDuration, in nanoseconds; undefined when the text is not a duration. */
function goDurationNs(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const sign = text.startsWith('-') ? -1 : 1;
  const body = text.replace(/^[-+]/, '');
  if (body === '0') return 0;
  const unit: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < body.length) {
    part.lastIndex = at;
    const m = part.exec(body);
    if (m === null) return undefined;
    total += Number(m[1]) * unit[m[2]!]!;
    at = part.lastIndex;
  }
  return at === 0 ? undefined : sign * total;
}

type Rec = Record<string, unknown>;
const has = (self: unknown, field: string): boolean => (self as Rec)[field] !== undefined;
const keysOf = (self: unknown): string[] => Object.keys(self as Rec);
const PORT_NAME = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/;

/**
 * Every CEL rule the Istio networking CRDs carry, as a predicate on `self`. A rule missing here
 * fails the schema compilation, so a newer CRD file cannot be checked less than it says.
 */
const CEL_RULES: Record<string, (self: unknown) => boolean> = {
  "duration(self) >= duration('1ms')": (self) => (goDurationNs(self) ?? -1) >= 1e6,
  'self.all(key, !key.contains("*"))': (self) => keysOf(self).every((k) => !k.includes('*')),
  'self.all(key, key.size() != 0)': (self) => keysOf(self).every((k) => k.length !== 0),
  '!self.contains("*")': (self) => !String(self).includes('*'),
  'self != "*"': (self) => self !== '*',
  '(has(self.tlsCertificates) ? 1 : 0) + (has(self.credentialNames) ? 1 : 0) <= 1': (self) =>
    !(has(self, 'tlsCertificates') && has(self, 'credentialNames')),
  '(has(self.credentialName) ? 1 : 0) + (has(self.credentialNames) ? 1 : 0) <= 1': (self) =>
    !(has(self, 'credentialName') && has(self, 'credentialNames')),
  '(has(self.credentialNames) ? 1 : 0) + (has(self.tlsCertificates) ? 1 : 0) <= 1': (self) =>
    !(has(self, 'credentialNames') && has(self, 'tlsCertificates')),
  '(has(self.workloadSelector) ? 1 : 0) + (has(self.endpoints) ? 1 : 0) <= 1': (self) =>
    !(has(self, 'workloadSelector') && has(self, 'endpoints')),
  '!((has(self.addresses) ? self.addresses : []).exists(k, k.contains("/")) && !((has(self.resolution) ? self.resolution : "NONE") in ["STATIC", "NONE"]))':
    (self) => {
      const s = self as { addresses?: string[]; resolution?: string };
      return !((s.addresses ?? []).some((a) => a.includes('/')) && !['STATIC', 'NONE'].includes(s.resolution ?? 'NONE'));
    },
  '((has(self.resolution) ? self.resolution : "NONE") == "NONE") ? !has(self.endpoints) : true': (self) =>
    ((self as Rec)['resolution'] ?? 'NONE') === 'NONE' ? !has(self, 'endpoints') : true,
  '((has(self.resolution) ? self.resolution : "") == "DNS_ROUND_ROBIN") ? ((has(self.endpoints) ? self.endpoints : []).size() <= 1) : true':
    (self) => {
      const s = self as { endpoints?: unknown[]; resolution?: string };
      return s.resolution === 'DNS_ROUND_ROBIN' ? (s.endpoints ?? []).length <= 1 : true;
    },
  'has(self.address) || has(self.network)': (self) => has(self, 'address') || has(self, 'network'),
  '(has(self.address) ? self.address : "").startsWith("unix://") ? !has(self.ports) : true': (self) =>
    String((self as Rec)['address'] ?? '').startsWith('unix://') ? !has(self, 'ports') : true,
  'self.startsWith("unix://") ? (self.substring(7, 8) == "/" || self.substring(7, 8) == "@") : true': (self) => {
    const s = String(self);
    return s.startsWith('unix://') ? s.charAt(7) === '/' || s.charAt(7) === '@' : true;
  },
  'self.startsWith("unix://") ? !self.endsWith("/") : true': (self) => {
    const s = String(self);
    return s.startsWith('unix://') ? !s.endsWith('/') : true;
  },
  'self.all(key, size(key) < 63 && key.matches("^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$"))': (self) =>
    keysOf(self).every((k) => k.length < 63 && PORT_NAME.test(k)),
  '0 < self && self <= 65535': (self) => typeof self === 'number' && self > 0 && self <= 65535,
  'self.all(l1, self.exists_one(l2, l1.number == l2.number))': (self) => {
    const numbers = (self as { number?: unknown }[]).map((p) => p.number);
    return new Set(numbers).size === numbers.length;
  },
};

/** Closes every object schema that declares properties: the API server drops or refuses undeclared fields. */
function closeObjects(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closeObjects);
  if (schema === null || typeof schema !== 'object') return schema;
  const s = { ...(schema as Schema) };
  if (s['properties'] && typeof s['properties'] === 'object') {
    s['properties'] = Object.fromEntries(Object.entries(s['properties'] as Schema).map(([k, v]) => [k, closeObjects(v)]));
  }
  for (const key of ['items', 'additionalProperties', 'not'] as const) {
    if (s[key] !== undefined && typeof s[key] === 'object') s[key] = closeObjects(s[key]);
  }
  for (const key of ['allOf', 'anyOf', 'oneOf'] as const) {
    if (Array.isArray(s[key])) s[key] = (s[key] as unknown[]).map(closeObjects);
  }
  if (s['properties'] !== undefined && s['additionalProperties'] === undefined && s['x-kubernetes-preserve-unknown-fields'] !== true) {
    s['additionalProperties'] = false;
  }
  return s;
}

function newAjv(): Ajv {
  // strict: false lets the other x-kubernetes-* keywords and OpenAPI `nullable` through.
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat('double', { type: 'number', validate: (n: number) => Number.isFinite(n) });
  ajv.addFormat('byte', /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/);
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/);
  ajv.addKeyword({
    keyword: 'x-kubernetes-validations',
    schemaType: 'array',
    errors: true,
    compile(rules: { rule: string; message?: string }[]) {
      const checks = rules.map((r) => {
        const predicate = CEL_RULES[r.rule.replace(/\s+/g, ' ').trim()];
        if (predicate === undefined) throw new Error(`crd-schemas: no predicate for CEL rule ${r.rule}`);
        return { predicate, message: r.message ?? r.rule };
      });
      const validate: DataValidateFunction = (data: unknown) => {
        const failed = checks.filter((c) => !c.predicate(data));
        validate.errors = failed.map((c) => ({ keyword: 'x-kubernetes-validations', message: c.message, params: {} }));
        return failed.length === 0;
      };
      return validate;
    },
  });
  ajv.addKeyword({
    keyword: 'x-kubernetes-list-type',
    schemaType: 'string',
    errors: true,
    compile(listType: string, parentSchema: Schema) {
      const mapKeys = (parentSchema['x-kubernetes-list-map-keys'] as string[] | undefined) ?? [];
      const identity = (item: unknown): string =>
        listType === 'map' ? canonicalJson(mapKeys.map((k) => (item as Rec)[k])) : canonicalJson(item);
      const validate: DataValidateFunction = (data: unknown) => {
        if (listType === 'atomic' || !Array.isArray(data)) return true;
        const ids = data.map(identity);
        const ok = new Set(ids).size === ids.length;
        validate.errors = ok ? [] : [{ keyword: 'x-kubernetes-list-type', message: `duplicate entries in a list of type ${listType}`, params: {} }];
        return ok;
      };
      return validate;
    },
  });
  return ajv;
}

function dotted(instancePath: string): string[] {
  return instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function toIssue(e: ErrorObject): ValidationIssue {
  const parts = ['spec', ...dotted(e.instancePath)];
  const extra = e.params as Record<string, unknown>;
  if (e.keyword === 'additionalProperties') return { path: [...parts, String(extra['additionalProperty'])].join('.'), message: 'unknown field' };
  if (e.keyword === 'required') return { path: [...parts, String(extra['missingProperty'])].join('.'), message: 'is required' };
  const allowed = Array.isArray(extra['allowedValues']) ? `: ${(extra['allowedValues'] as unknown[]).join(', ')}` : '';
  return { path: parts.join('.'), message: `${e.message ?? 'is invalid'}${allowed}` };
}

export interface CrdValidator {
  /** Problems with the object (empty when valid) per its CRD version's openAPIV3Schema. */
  validate(obj: KubeObject): ValidationIssue[];
  /** The CRD's resource plural for `group/version` + kind, to check managedKinds against. */
  plural(apiVersion: string, kind: string): string | undefined;
}

/** Loads the CRD file once; schemas compile lazily per kind and version. */
export function loadCrdValidator(file: string = CRD_FILE): CrdValidator {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`crd-schemas: cannot read ${file} (the CRD schemas vendored under test/fixtures/istio)`, { cause: err });
  }
  const crds = parseAllDocuments(text)
    .map((d) => d.toJS() as Crd | null)
    .filter((d): d is Crd => d?.kind === 'CustomResourceDefinition');
  const ajv = newAjv();
  const compiled = new Map<string, ValidateFunction>();

  const find = (apiVersion: string, kind: string) => {
    const [group, version] = apiVersion.split('/');
    const crd = crds.find((c) => c.spec.group === group && c.spec.names.kind === kind);
    const crdVersion = crd?.spec.versions.find((v) => v.name === version && v.served);
    return crd && crdVersion ? { crd, crdVersion } : undefined;
  };

  return {
    plural(apiVersion, kind) {
      return find(apiVersion, kind)?.crd.spec.names.plural;
    },
    validate(obj) {
      const found = find(obj.apiVersion, obj.kind);
      if (found === undefined) return [{ path: 'apiVersion', message: `no served CRD version for ${obj.apiVersion} ${obj.kind}` }];
      const issues: ValidationIssue[] = [];
      for (const key of Object.keys(obj)) {
        if (!['apiVersion', 'kind', 'metadata', 'spec'].includes(key)) issues.push({ path: key, message: 'unknown field' });
      }
      if (found.crd.spec.scope === 'Namespaced' && !obj.metadata.namespace) issues.push({ path: 'metadata.namespace', message: 'is required' });
      const key = `${obj.apiVersion}|${obj.kind}`;
      let validateSpec = compiled.get(key);
      if (validateSpec === undefined) {
        const specSchema = (found.crdVersion.schema.openAPIV3Schema['properties'] as Schema)['spec'];
        validateSpec = ajv.compile(closeObjects(specSchema) as Schema);
        compiled.set(key, validateSpec);
      }
      if (!validateSpec(obj['spec'])) issues.push(...(validateSpec.errors ?? []).map(toIssue));
      return issues;
    },
  };
}
