// The YAML the local cluster directories write: any plain data reads back the same under YAML 1.2
// (the yaml library) and YAML 1.1 (what kubectl's parser follows), and a link's objects look as
// the yaml library writes them.
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { yamlText } from '../../shared/clusters/yaml-text.js';
import { parseLinkSpec } from '../../shared/link/spec.js';
import { renderCredentialSecret, renderSideObjects } from '../../shared/mesh/render.js';
import { specInput } from '../support/builders.js';

/** Strings YAML is tempted to read as something else, beside arbitrary ones. */
const tricky = fc.constantFrom('yes', 'No', 'on', 'OFF', 'y', 'null', '~', 'true', '012', '0x1F', '0o17', '0b101', '1e3', '1_000', '1:30', '.5', '.inf', '-.inf', '.nan', '2026-12-07', '203.0.113.10', 'a: b', 'a:', ':a', '- a', '#a', 'a #b', '"q"', "'q'", '', ' ', 'a\nb', '*ref', '&anchor', '!tag', '%x', '@x', '`x', '{}', '[]', 'tls.crt', 'meshlink.io/link', 'spiffe://x/ns/y', 'LS0t+/=');
const key = fc.oneof(tricky, fc.string());
// Numbers as JSON holds them: no -0 (JSON.stringify writes it 0, and so does yamlText; YAML 1.1
// has no negative zero to read back), as no Kubernetes object holds one.
const number = fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Object.is(d, -0) ? 0 : d));
const scalar = fc.oneof(tricky, fc.string(), fc.integer(), number, fc.boolean(), fc.constant(null));
const { value } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalar, tie('list'), tie('map')),
  list: fc.array(tie('value'), { maxLength: 4 }),
  map: fc.dictionary(key, tie('value'), { maxKeys: 4 }),
}));
const document = fc.oneof(fc.dictionary(key, value, { maxKeys: 6 }), fc.array(value, { maxLength: 6 }));

describe('yamlText', () => {
  it('reads back as the same data under YAML 1.2 and YAML 1.1', () => {
    fc.assert(
      fc.property(document, (doc) => {
        const text = yamlText(doc);
        expect(parse(text)).toEqual(doc);
        expect(parse(text, { version: '1.1' })).toEqual(doc);
      }),
      { numRuns: 500 },
    );
  });

  it('writes a link\'s objects as the yaml library does, but for quotes it adds around a YAML 1.1 float (an IP address)', () => {
    const spec = parseLinkSpec(specInput());
    for (const side of ['client', 'server'] as const) {
      const credential = { 'tls.crt': 'certificate', 'tls.key': 'key', 'ca.crt': 'trust' };
      for (const object of [renderCredentialSecret(spec, side, credential, 'meshlink-mysql-client@1'), ...renderSideObjects(spec, side, '203.0.113.10')]) {
        expect(yamlText(object)).toBe(stringify(object).replace('address: 203.0.113.10', 'address: "203.0.113.10"'));
      }
    }
  });

  it('refuses what JSON cannot hold', () => {
    expect(() => yamlText({ a: Number.POSITIVE_INFINITY })).toThrow(TypeError);
    expect(() => yamlText({ a: () => 1 })).toThrow(TypeError);
  });
});
