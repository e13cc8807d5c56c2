// Checks a rendered Istio object against Istio's CRD schema for its version (tests only: no
// production path validates with it). Uses @kubernetes-models/istio: validators compiled from
// Istio's official CRDs (crd-all.gen.yaml). The vendored CRD YAML (test/fixtures/istio) stays the authority:
// test/mesh/crd-schemas.ts validates against it, with unknown fields and the CEL rules checked too,
// which these compiled validators do not do.
import * as v1 from '@kubernetes-models/istio/networking.istio.io/v1';
import * as v1beta1 from '@kubernetes-models/istio/networking.istio.io/v1beta1';
import type { KubeObject } from '../../shared/clusters/port.js';

export interface ValidationIssue {
  /** Dotted path of the offending field, e.g. `spec.servers.0.tls.mode`. */
  path: string;
  message: string;
}

/** What the model classes share: validate() throws an error that lists ajv-style errors. */
type ModelClass = new (data: never) => { validate(): void };

const MODELS: Record<string, Record<string, ModelClass>> = {
  'networking.istio.io/v1': {
    Gateway: v1.Gateway,
    ServiceEntry: v1.ServiceEntry,
    VirtualService: v1.VirtualService,
    DestinationRule: v1.DestinationRule,
  },
  'networking.istio.io/v1beta1': {
    Gateway: v1beta1.Gateway,
    ServiceEntry: v1beta1.ServiceEntry,
    VirtualService: v1beta1.VirtualService,
    DestinationRule: v1beta1.DestinationRule,
  },
};

const DNS1123_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

interface SchemaError {
  instancePath: string;
  message?: string;
  params?: Record<string, unknown>;
}

function dotted(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

function issuesOf(err: unknown): ValidationIssue[] {
  const errors = (err as { errors?: SchemaError[] } | null)?.errors;
  if (!Array.isArray(errors)) return [{ path: '(root)', message: err instanceof Error ? err.message : String(err) }];
  return errors.map((e) => {
    const at = dotted(e.instancePath);
    const missing = e.params?.['missingProperty'];
    // Name the missing field itself, as the spec parser's errors do.
    if (typeof missing === 'string') return { path: at ? `${at}.${missing}` : missing, message: 'is required' };
    const allowed = e.params?.['allowedValues'];
    const suffix = Array.isArray(allowed) ? `: ${allowed.join(', ')}` : '';
    return { path: at || '(root)', message: `${e.message ?? 'is invalid'}${suffix}` };
  });
}

/**
 * The problems Kubernetes or Istio would reject the object for (empty when it is valid): an
 * apiVersion/kind meshlink does not render, names that are not DNS names, and schema violations.
 */
export function validateIstioObject(obj: KubeObject): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const Model = MODELS[obj.apiVersion]?.[obj.kind];
  if (Model === undefined) return [{ path: 'kind', message: `${obj.apiVersion} ${obj.kind} is not an Istio kind meshlink renders` }];
  if (!DNS1123_SUBDOMAIN.test(obj.metadata.name)) issues.push({ path: 'metadata.name', message: 'must be a DNS-1123 subdomain' });
  if (obj.metadata.namespace !== undefined && !DNS1123_LABEL.test(obj.metadata.namespace)) {
    issues.push({ path: 'metadata.namespace', message: 'must be a DNS-1123 label' });
  }
  try {
    new Model(obj as never).validate();
  } catch (err) {
    issues.push(...issuesOf(err));
  }
  return issues;
}
