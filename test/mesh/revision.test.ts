// Revisions: canonical JSON and the revision annotation that lets apply skip unchanged objects.
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../shared/clusters/port.js';
import { ANNOTATION_REVISION } from '../../shared/link/names.js';
import { canonicalJson, revisionOf, withRevision } from '../../shared/mesh/revision.js';

const object = (spec: unknown, annotations?: Record<string, string>): KubeObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'Gateway',
  metadata: { name: 'g', namespace: 'istio-system', ...(annotations ? { annotations } : {}) },
  spec,
});

describe('canonicalJson', () => {
  it.each([
    { label: 'sorts keys at every level', value: { b: 1, a: { d: [{ z: 1, y: 2 }], c: null } }, json: '{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}' },
    { label: 'keeps array order', value: [3, 1, 2], json: '[3,1,2]' },
    { label: 'drops undefined properties', value: { a: undefined, b: 'x' }, json: '{"b":"x"}' },
    { label: 'passes scalars through', value: 'text', json: '"text"' },
  ])('$label', ({ value, json }) => {
    expect(canonicalJson(value)).toBe(json);
  });

  it('gives equal text for objects built in different key orders', () => {
    expect(canonicalJson({ x: 1, y: { p: 1, q: 2 } })).toBe(canonicalJson({ y: { q: 2, p: 1 }, x: 1 }));
  });
});

describe('revisions', () => {
  it('withRevision annotates the object with its revision and leaves the input alone', () => {
    const input = object({ a: 1 });
    const revised = withRevision(input);
    expect(revised.metadata.annotations?.[ANNOTATION_REVISION]).toBe(revisionOf(input));
    expect(input.metadata.annotations).toBeUndefined();
  });

  it('ignores a stale revision annotation, so re-revising gives the same result', () => {
    const revised = withRevision(object({ a: 1 }));
    const stale = object({ a: 1 }, { [ANNOTATION_REVISION]: 'stale' });
    expect(revisionOf(stale)).toBe(revisionOf(revised));
    expect(withRevision(revised)).toEqual(revised);
  });

  it.each([
    { label: 'a spec value', other: object({ a: 2 }) },
    { label: 'another annotation', other: object({ a: 1 }, { note: 'x' }) },
    { label: 'the name', other: { ...object({ a: 1 }), metadata: { name: 'h', namespace: 'istio-system' } } },
  ])('changes with $label', ({ other }) => {
    expect(revisionOf(other)).not.toBe(revisionOf(object({ a: 1 })));
  });

  it('does not change with key order', () => {
    expect(revisionOf(object({ a: 1, b: 2 }))).toBe(revisionOf(object({ b: 2, a: 1 })));
  });
});
