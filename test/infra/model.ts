// A read-only view of infra/*.tf as parsed by @cdktf/hcl2json: resource instances (for_each expanded), locals, variables, references.

/** One file as `@cdktf/hcl2json` returns it: blocks are arrays, expressions are `${...}` strings. */
export type HclFile = Record<string, unknown>;
export type Body = Record<string, unknown>;

export interface Instance {
  /** `type.name`, or `type.name["key"]` for a for_each instance. */
  address: string;
  type: string;
  name: string;
  /** The for_each key; `*` when the for_each could not be resolved statically (e.g. a variable). */
  key?: string;
  /** The raw for_each expression, when there is one. */
  forEach?: unknown;
  body: Body;
}

export interface InfraModel {
  files: HclFile[];
  instances: Instance[];
  locals: Record<string, unknown>;
  variables: Record<string, Body>;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A block's first occurrence (hcl2json gives every block as an array). */
export function block(body: unknown, name: string): Body | undefined {
  if (!isRecord(body)) return undefined;
  const v = body[name];
  if (Array.isArray(v)) return isRecord(v[0]) ? v[0] : undefined;
  return isRecord(v) ? v : undefined;
}

/** Follows a path of block and attribute names, taking the first occurrence of each block. */
export function path(body: unknown, ...names: string[]): unknown {
  let cur: unknown = body;
  for (const n of names) {
    if (Array.isArray(cur)) cur = cur[0];
    if (!isRecord(cur)) return undefined;
    cur = cur[n];
  }
  return Array.isArray(cur) && cur.length === 1 && isRecord(cur[0]) ? cur[0] : cur;
}

const WHOLE_LOCAL = /^\$\{local\.([\w-]+)\}$/;

/** Replaces a value that is exactly `${local.NAME}` by that local's value, repeatedly. */
export function resolve(model: InfraModel, v: unknown): unknown {
  let cur = v;
  for (let i = 0; i < 10 && typeof cur === 'string'; i++) {
    const m = WHOLE_LOCAL.exec(cur);
    if (!m?.[1] || !(m[1] in model.locals)) break;
    cur = model.locals[m[1]];
  }
  return cur;
}

/** Every string in a value, depth first. */
export function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (isRecord(v)) return Object.values(v).flatMap(strings);
  return [];
}

/**
 * The text of a value together with the text of every local it mentions (transitively): enough
 * to ask what a composed string (a log filter, a condition) can contain.
 */
export function expandedText(model: InfraModel, v: unknown): string {
  const seen = new Set<string>();
  const parts: string[] = [];
  const visit = (value: unknown) => {
    for (const s of strings(value)) {
      parts.push(s);
      for (const m of s.matchAll(/(?<![\w.])local\.([\w-]+)/g)) {
        const name = m[1];
        if (name && !seen.has(name) && name in model.locals) {
          seen.add(name);
          visit(model.locals[name]);
        }
      }
    }
  };
  visit(v);
  return parts.join('\n');
}

const REF = /(?<![\w.])(google_[a-z0-9_]+)\.([A-Za-z_][\w-]*)(?:\[(?:"([^"]*)"|\d+)\])?/g;

/** Addresses of the managed resources a value refers to (`google_x.y` or `google_x.y["k"]`). */
export function refs(v: unknown): string[] {
  const out = new Set<string>();
  for (const s of strings(v)) {
    for (const m of s.matchAll(REF)) {
      out.add(m[3] === undefined ? `${m[1]}.${m[2]}` : `${m[1]}.${m[2]}["${m[3]}"]`);
    }
  }
  return [...out];
}

export function instancesOf(model: InfraModel, type: string): Instance[] {
  return model.instances.filter((i) => i.type === type);
}

/** The instances of a type that a value refers to. */
export function referenced(model: InfraModel, v: unknown, type: string): Instance[] {
  const addresses = new Set(refs(v));
  return instancesOf(model, type).filter((i) => addresses.has(i.address));
}

/** for_each entries when they are written in the configuration (literal or a literal local). */
function forEachEntries(model: InfraModel, raw: unknown): [string, unknown][] | undefined {
  let v = resolve(model, raw);
  if (typeof v === 'string') {
    // merge(local.a, local.b, ...) of literal maps: later keys win, as in Terraform.
    const merged = /^\$\{merge\((local\.[\w-]+(?:,\s*local\.[\w-]+)*)\)\}$/.exec(v);
    if (merged?.[1]) {
      const parts = merged[1].split(',').map((x) => model.locals[x.trim().slice('local.'.length)]);
      return parts.every(isRecord) ? Object.entries(Object.assign({}, ...parts)) : undefined;
    }
    const toSetOfLocal = /^\$\{toset\(local\.([\w-]+)\)\}$/.exec(v);
    const toSetLiteral = /^\$\{toset\((\[[^\]]*\])\)\}$/.exec(v);
    if (toSetOfLocal?.[1] && toSetOfLocal[1] in model.locals) v = model.locals[toSetOfLocal[1]];
    else if (toSetLiteral?.[1]) {
      try {
        v = JSON.parse(toSetLiteral[1].replace(/,\s*\]$/, ']'));
      } catch {
        return undefined;
      }
    }
  }
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.map((x) => [x, x]);
  if (isRecord(v)) return Object.entries(v);
  return undefined;
}

function eachValue(value: unknown, field: string | undefined): unknown {
  if (field === undefined) return value;
  return isRecord(value) ? value[field] : undefined;
}

/** Puts one for_each entry into a body: `${each.key}`, `${each.value}`, `${each.value.x}`. */
function substituteEach(body: unknown, key: string, value: unknown): unknown {
  if (typeof body === 'string') {
    const whole = /^\$\{each\.(key|value)(?:\.([\w-]+))?\}$/.exec(body);
    if (whole) return whole[1] === 'key' ? key : eachValue(value, whole[2]) ?? body;
    const inTemplate = body.replace(/\$\{each\.(key|value)(?:\.([\w-]+))?\}/g, (all, which: string, field?: string) => {
      const v = which === 'key' ? key : eachValue(value, field);
      return typeof v === 'string' || typeof v === 'number' ? String(v) : all;
    });
    // Inside larger expressions (`feed[each.key].id`) an entry becomes a quoted literal.
    return inTemplate.replace(/(?<![\w.])each\.(key|value)(?:\.([\w-]+))?/g, (all, which: string, field?: string) => {
      const v = which === 'key' ? key : eachValue(value, field);
      return typeof v === 'string' || typeof v === 'number' ? JSON.stringify(v) : all;
    });
  }
  if (Array.isArray(body)) return body.map((b) => substituteEach(b, key, value));
  if (isRecord(body)) return Object.fromEntries(Object.entries(body).map(([k, b]) => [k, substituteEach(b, key, value)]));
  return body;
}

/** Merges parsed files into one model; for_each resources become one instance per key. */
export function buildModel(files: HclFile[]): InfraModel {
  const locals: Record<string, unknown> = {};
  const variables: Record<string, Body> = {};
  for (const f of files) {
    for (const l of Array.isArray(f.locals) ? f.locals : []) if (isRecord(l)) Object.assign(locals, l);
    if (isRecord(f.variable)) {
      for (const [name, blocks] of Object.entries(f.variable)) {
        const b = Array.isArray(blocks) ? blocks[0] : blocks;
        if (isRecord(b)) variables[name] = b;
      }
    }
  }
  const model: InfraModel = { files, instances: [], locals, variables };
  for (const f of files) {
    if (!isRecord(f.resource)) continue;
    for (const [type, byName] of Object.entries(f.resource)) {
      if (!isRecord(byName)) continue;
      for (const [name, blocks] of Object.entries(byName)) {
        const body = Array.isArray(blocks) ? blocks[0] : blocks;
        if (!isRecord(body)) continue;
        if (!('for_each' in body)) {
          model.instances.push({ address: `${type}.${name}`, type, name, body });
          continue;
        }
        const entries = forEachEntries(model, body.for_each);
        if (!entries) {
          model.instances.push({ address: `${type}.${name}["*"]`, type, name, key: '*', forEach: body.for_each, body });
          continue;
        }
        for (const [key, value] of entries) {
          model.instances.push({
            address: `${type}.${name}["${key}"]`,
            type,
            name,
            key,
            forEach: body.for_each,
            body: substituteEach(body, key, value) as Body,
          });
        }
      }
    }
  }
  return model;
}
