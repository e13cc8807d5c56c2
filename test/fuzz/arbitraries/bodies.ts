// Raw request bodies and the headers around them: garbage bytes, JSON (random, truncated, deep,
// oversized), YAML (random, tagged, anchors and alias bombs, several documents), each under a
// Content-Type, a Content-Encoding and a framing (true length, chunked, or a lying length).
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { MAX_BODY_BYTES } from '../../../functions/http-api.js';

export interface RawBody {
  /** What the body is, for reading a counterexample. */
  kind: string;
  bytes: Buffer;
}

const text = (kind: string) => (s: string): RawBody => ({ kind, bytes: Buffer.from(s) });

/** Billion laughs: each level aliases the one before it `width` times. */
export function aliasBomb(levels: number, width: number): string {
  const lines = ['l0: &l0 [lol]'];
  for (let i = 1; i <= levels; i++) lines.push(`l${i}: &l${i} [${Array.from({ length: width }, () => `*l${i - 1}`).join(', ')}]`);
  return lines.join('\n') + '\n';
}

/** Tags YAML's core schema does not know, and a few it does. */
export const yamlTag = fc.constantFrom('!foo', '!Ref', '!!python/object:os.system', '!!binary', '!!set', '!!omap', '!!timestamp', '!<tag:example.com,2000:x>', '!!str', '!!int', '!');

export const rawBody: fc.Arbitrary<RawBody> = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((b) => ({ kind: 'bytes', bytes: Buffer.from(b) })),
  fc.jsonValue({ maxDepth: 4 }).map((v) => text('json')(JSON.stringify(v) ?? 'null')),
  fc.jsonValue({ maxDepth: 4 }).chain((v) => {
    const s = JSON.stringify(v) ?? 'null';
    return fc.integer({ min: 0, max: Math.max(0, s.length - 1) }).map((n) => text('truncated json')(s.slice(0, n)));
  }),
  fc.integer({ min: 1, max: 20_000 }).chain((n) => fc.constantFrom(text('deep json array')('['.repeat(n) + ']'.repeat(n)), text('deep json object')('{"a":'.repeat(n) + '1' + '}'.repeat(n)))),
  fc.constantFrom('{"__proto__": {"name": "x"}}', '{"name": "a", "name": "b"}', '\ufeff{}', '{}\u0000', '{"a": 1e999999}', '"\\ud800"', ' ').map(text('odd json')),
  fc.jsonValue({ maxDepth: 4 }).map((v) => text('yaml')(toYaml(v) ?? '')),
  fc.tuple(yamlTag, fc.string({ maxLength: 10 })).map(([tag, v]) => text('tagged yaml')(`name: ${tag} ${JSON.stringify(v)}\nhost: x.example.com\n`)),
  fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 2, max: 10 })).map(([levels, width]) => text('alias bomb')(aliasBomb(levels, width))),
  fc.constantFrom(
    'a: &a {b: 1}\nc: *a\n',
    'a: &a [*a]\n',
    '<<: {name: x}\nhost: y\n',
    'a: 1\n---\nb: 2\n',
    '%YAML 1.1\n---\nname: yes\n',
    '%TAG ! tag:example.com,2000:\n---\nname: !foo x\n',
    'name: [unclosed\n',
    '? [a, b]\n: c\n',
    'name: mysql\nname: other\n',
    '- a\n- b\n',
    '~',
    '\t- tab',
  ).map(text('odd yaml')),
  fc.integer({ min: -64, max: 64 }).map((d) => text('near the size limit')(JSON.stringify({ name: 'x'.repeat(MAX_BODY_BYTES - 11 + d) }))),
);

export const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json; charset=latin1',
  'application/json; charset=bogus',
  'application/yaml',
  'text/yaml',
  'application/x-yaml',
  'application/yaml; charset=utf-16',
  'text/plain',
  'application/octet-stream',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/cloudevents+json',
  'application/merge-patch+json',
  'foo',
  ';',
  '',
  undefined,
);

export type Encoding = 'identity' | 'gzip' | 'deflate' | 'br' | 'gzip of garbage' | 'bogus';
export const contentEncoding = fc.constantFrom<Encoding>('identity', 'gzip', 'deflate', 'br', 'gzip of garbage', 'bogus');

/** The bytes on the wire and the Content-Encoding header for an encoding of a body. */
export function encode(bytes: Buffer, encoding: Encoding): { wire: Buffer; header?: string } {
  switch (encoding) {
    case 'identity':
      return { wire: bytes };
    case 'gzip':
      return { wire: gzipSync(bytes), header: 'gzip' };
    case 'deflate':
      return { wire: deflateSync(bytes), header: 'deflate' };
    case 'br':
      return { wire: brotliCompressSync(bytes), header: 'br' };
    case 'gzip of garbage':
      return { wire: bytes, header: 'gzip' };
    case 'bogus':
      return { wire: bytes, header: 'x-bogus' };
  }
}

/** How the body is framed: its true length, chunks, a Content-Length shorter or longer than it, or both headers. */
export type Framing = 'length' | 'chunked' | 'short length' | 'long length' | 'length and chunked';
export const framing = fc.constantFrom<Framing>('length', 'length', 'chunked', 'short length', 'long length', 'length and chunked');

/** Framings Node's HTTP parser refuses (or cuts short) before any function runs. */
export function brokenFraming(f: Framing): boolean {
  return f === 'short length' || f === 'long length' || f === 'length and chunked';
}
