// ClusterTarget writing YAML files instead of calling an API server: the embedded default.
//
// Layout under `dir` (`<stateDir>/clusters/<safe cluster name>`), one object per file:
//   <namespace>/<kind lowercase>-<name>.yaml             applied objects (Secrets mode 0600)
//   <namespace>/service-<name>.yaml                      a Service you may drop in (read only)
//   <namespace>/service-<name>.ports-patch.yaml          ports meshlink wants on that Service
// Use them with:
//   kubectl apply -f <dir> -R
//   kubectl patch service <name> -n <namespace> --patch-file <dir>/<namespace>/service-<name>.ports-patch.yaml
// The ports patch is a strategic-merge patch: Service ports merge by `port`, so it adds its ports
// and keeps the others. It carries apiVersion/kind/metadata, so `kubectl apply -R` over the
// directory merges it the same way instead of failing on a headless document.
// Writes are atomic and durable (shared/durable-file.ts), the files of one apply written at once with
// one fsync per directory, each directory made (or found) once per target; the first change through
// a target removes the temp files killed writes left (a Secret's holds a key). The YAML is written
// by yaml-text.ts; the yaml library parses only files this process did not write (one process per
// state directory).
import { dirname, join, resolve, sep } from 'node:path';
import { ensureDir, leftByOtherProcess, nodeFs, syncDir, writeAllDurably, type DurableFs, type FileWrite } from '../durable-file.js';
import { MeshlinkError } from '../errors.js';
import { readdirDeep, readText as readFileText } from '../fs-calls.js';
import { createHash } from 'node:crypto';
import { ANNOTATION_REVISION, LABEL_LINK } from '../link/names.js';
import { KeyedLock } from '../keyed-lock.js';
import { setBounded } from '../bounded-map.js';
import { yaml } from '../yaml.js';
import { yamlText } from './yaml-text.js';
import { isKept, labelSelector, matchesLabels } from './selector.js';
import { assertOwned } from './ownership.js';
import type { AppliedObject, ClusterTarget, KubeObject, ObjectKind, ObjectRef, ServiceInfo, ServicePort } from './port.js';

const DNS_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const PATCH_SUFFIX = '.ports-patch.yaml';
/**
 * Ports patches are read, changed and rewritten: links created at once on one cluster would lose
 * each other's ports. Serialised per file, process-wide (targets on one directory share it).
 */
const patchLocks = new KeyedLock();

/**
 * The object files under each directory (by resolved path) and their headers, once a
 * deleteByLabel has listed and read them: the directory's targets are its only writers (one
 * process per state directory), so what they write and remove keeps it current, and a
 * deleteByLabel reads no file. It runs on every sync whose objects changed (the sweep for objects
 * under former names), and read every Gateway file of the namespace there, on each create: O(links).
 * A check or apply reads no file the index does not hold (outcomeOf): a file put at a link's
 * object name by hand while meshlink runs is not seen until a restart, as the README says.
 */
const indexes = new Map<string, Promise<ObjectIndex>>();

/**
 * A directory's object files (by resolved path) with their headers, and the files of each link
 * (its LABEL_LINK): a deleteByLabel for a link looks at that link's files, not at every file of
 * the directory (a create's sweep for former names did, at a cost growing with the links there).
 */
class ObjectIndex {
  private readonly headers = new Map<string, ObjectHeader | null>();
  private readonly byLink = new Map<string, Set<string>>();

  has(file: string): boolean {
    return this.headers.has(file);
  }

  set(file: string, header: ObjectHeader | null): void {
    this.delete(file);
    this.headers.set(file, header);
    const link = header?.metadata?.labels?.[LABEL_LINK];
    if (link !== undefined) this.byLink.set(link, (this.byLink.get(link) ?? new Set()).add(file));
  }

  delete(file: string): void {
    const link = this.headers.get(file)?.metadata?.labels?.[LABEL_LINK];
    this.headers.delete(file);
    if (link === undefined) return;
    const files = this.byLink.get(link);
    files?.delete(file);
    if (files?.size === 0) this.byLink.delete(link);
  }

  /** The files (and headers) an object matching `labels` can be in: the link's when they name one. */
  candidates(labels: Record<string, string>): [string, ObjectHeader | null][] {
    const link = labels[LABEL_LINK];
    if (link === undefined) return [...this.headers];
    return [...(this.byLink.get(link) ?? [])].map((file) => [file, this.headers.get(file) ?? null]);
  }
}

/** A temp file of a killed write: `<file>.tmp-<suffix>`, or `<file>.<12 hex>.tmp` as older versions named them. */
const isStaleTemp = (name: string) => leftByOtherProcess(name, 'tmp') || /\.[0-9a-f]{12}\.tmp$/.test(name);

export class LocalDirectoryTarget implements ClusterTarget {
  private opened: Promise<void> | undefined;
  /** Directories made or found by this target's writes: not made again (writeAll). */
  private readonly dirs = new Set<string>();

  /** `fs`: the file system calls that change something (tests inject them to see their order). */
  constructor(
    readonly cluster: string,
    private readonly dir: string,
    private readonly fs: DurableFs = nodeFs,
  ) {}

  /** Before the first change: once, and again after a failed attempt. */
  private open(): Promise<void> {
    this.opened ??= this.removeStaleTemps().catch((err: unknown) => {
      this.opened = undefined;
      throw new MeshlinkError('unavailable', `cannot clean ${this.dir}`, { cause: err });
    });
    return this.opened;
  }

  private async removeStaleTemps(): Promise<void> {
    for (const file of await listFiles(this.dir, isStaleTemp)) await this.fs.rm(file, { force: true });
  }

  async isCurrent(objects: KubeObject[]): Promise<boolean> {
    for (const object of objects) if ((await this.outcomeOf(object)).outcome !== 'unchanged') return false;
    return true;
  }

  /**
   * What applying the object would do to its file, the file's path, and the object the file holds.
   * The object's YAML is written only when it is needed: a file at the object's revision is
   * current without it. A file the directory's index (once listed) does not hold is absent without
   * a read (a new link's check and apply read each of its files twice); one it holds is read, so a
   * file removed or changed by hand is still seen.
   */
  private async outcomeOf(object: KubeObject): Promise<{ file: string; outcome: AppliedObject['outcome']; existing?: ObjectHeader | null }> {
    const file = this.objectFile(object.metadata.namespace ?? 'default', object.kind, object.metadata.name);
    const index = file.endsWith(PATCH_SUFFIX) ? undefined : await indexes.get(resolve(this.dir))?.catch(() => undefined);
    if (index && !index.has(resolve(file))) return { file, outcome: 'created' };
    const raw = await readText(file);
    if (raw === undefined) return { file, outcome: 'created' };
    const existing = headerOf(raw, file);
    return { file, existing, outcome: sameRevision(existing, object) || raw === yamlText(object) ? 'unchanged' : 'updated' };
  }

  async checkOwners(objects: KubeObject[]): Promise<void> {
    await this.planApply(objects);
  }

  /** Every object's outcome, refused as a whole when a file holds another link's object (invariant 6). */
  private async planApply(objects: KubeObject[]) {
    const planned = [];
    for (const object of objects) planned.push(await this.outcomeOf(object));
    assertOwned(this.cluster, objects, planned.map((p) => p.existing));
    return planned;
  }

  async apply(objects: KubeObject[]): Promise<AppliedObject[]> {
    await this.open();
    const planned = await this.planApply(objects);
    // The files at once, each atomic: their fsyncs overlap and each directory is fsynced once,
    // after all of its renames (a create's time was mostly fsyncs one after another). Should one
    // fail, the next apply writes the rest.
    const changed = objects.flatMap((object, i) => {
      const { file, outcome } = planned[i]!;
      return outcome === 'unchanged' ? [] : [{ object, file, data: yamlText(object), mode: object.kind === 'Secret' ? 0o600 : 0o644 }];
    });
    await this.writeAll(changed.map(({ file, data, mode }) => ({ file, data, mode })));
    // What was written is known without reading it back.
    for (const { data, object, file } of changed) this.indexed(file, rememberHeader(data, object));
    return objects.map((object, i) => ({ kind: object.kind, namespace: object.metadata.namespace ?? 'default', name: object.metadata.name, outcome: planned[i]!.outcome }));
  }

  async getService(namespace: string, name: string): Promise<ServiceInfo | undefined> {
    const text = await readText(this.objectFile(namespace, 'Service', name));
    if (text === undefined) return undefined;
    const service = parseYaml(text, this.objectFile(namespace, 'Service', name)) as ServiceDoc;
    const ingress = service.status?.loadBalancer?.ingress?.[0];
    const address = ingress?.ip || ingress?.hostname || undefined;
    // Report the ports as they will be once the patch file is applied.
    const ports = mergePorts(toPorts(service.spec?.ports), await this.patchPorts(namespace, name));
    return { namespace, name, ports, ...(address ? { address } : {}) };
  }

  async ensureServicePorts(namespace: string, name: string, ports: ServicePort[], own: string[] = []): Promise<ServicePort[]> {
    await this.open();
    return patchLocks.run(resolve(this.patchFile(namespace, name)), () => this.addPorts(namespace, name, ports, own));
  }

  private async addPorts(namespace: string, name: string, ports: ServicePort[], own: string[]): Promise<ServicePort[]> {
    const patched = await this.patchPorts(namespace, name);
    const serviceText = await readText(this.objectFile(namespace, 'Service', name));
    const live = serviceText === undefined ? [] : toPorts((parseYaml(serviceText, name) as ServiceDoc).spec?.ports);
    const known = new Set([...live, ...patched].map((p) => p.port));
    const added: ServicePort[] = [];
    for (const port of ports) {
      if (known.has(port.port)) continue;
      known.add(port.port);
      added.push(port);
    }
    // A moved port of the caller's own leaves the patch (the dropped-in Service file is not ours to edit).
    const moved = new Set(added.filter((p) => own.includes(p.name)).map((p) => p.name));
    if (added.length > 0) await this.writePatch(namespace, name, [...patched.filter((p) => !moved.has(p.name)), ...added]);
    return added;
  }

  async removeServicePorts(namespace: string, name: string, portNames: string[]): Promise<string[]> {
    await this.open();
    return patchLocks.run(resolve(this.patchFile(namespace, name)), async () => {
      const patched = await this.patchPorts(namespace, name);
      const drop = new Set(portNames);
      const removed = patched.filter((p) => drop.has(p.name)).map((p) => p.name);
      if (removed.length > 0) await this.writePatch(namespace, name, patched.filter((p) => !drop.has(p.name)));
      return removed;
    });
  }

  async deleteByLabel(labels: Record<string, string>, kinds: ObjectKind[], namespace?: string, keep?: readonly ObjectRef[]): Promise<number> {
    labelSelector(labels); // refuses an empty selector before touching any file
    await this.open();
    const wanted = new Set(kinds.map((k) => k.kind));
    // One namespace is one directory (its name checked like every path segment).
    const root = namespace === undefined ? this.dir : dirname(this.objectFile(namespace, 'Secret', 'any'));
    let deleted = 0;
    const index = await this.index();
    const under = `${resolve(root)}${sep}`;
    const matching = index.candidates(labels).filter(([file, object]) => {
      if (!file.startsWith(under) || !object || !wanted.has(String(object.kind))) return false;
      return matchesLabels(object.metadata?.labels, labels) && !isKept(keep, object.kind, object.metadata?.name);
    });
    for (const [file] of matching.sort(([a], [b]) => (a < b ? -1 : 1))) {
      await this.remove(file);
      deleted += 1;
    }
    return deleted;
  }

  /** The directory's object files and their headers (indexes, below): listed and read once. */
  private index(): Promise<ObjectIndex> {
    const key = resolve(this.dir);
    let index = indexes.get(key);
    if (!index) {
      index = this.readIndex();
      indexes.set(key, index);
      index.catch(() => indexes.delete(key));
    }
    return index;
  }

  private async readIndex(): Promise<ObjectIndex> {
    const index = new ObjectIndex();
    for (const file of await listFiles(this.dir, (name) => name.endsWith('.yaml') && !name.endsWith(PATCH_SUFFIX))) {
      const text = await readText(file);
      if (text !== undefined) index.set(resolve(file), headerOf(text, file));
    }
    return index;
  }

  /** Keeps the directory's index (if listed yet) in step with a file written (its header) or removed (null). */
  private indexed(file: string, header: ObjectHeader | undefined): void {
    const at = resolve(file);
    void indexes.get(resolve(this.dir))?.then((index) => (header ? index.set(at, header) : index.delete(at)), () => {});
  }

  /** A directory of YAML files has no pods to look at. */
  async findGatewayNamespaces(_selector: Record<string, string>): Promise<undefined> {
    return undefined;
  }

  private objectFile(namespace: string, kind: string, name: string): string {
    for (const [what, value] of [['namespace', namespace], ['name', name], ['kind', kind.toLowerCase()]] as const) {
      // Names become path segments: refuse anything that could leave the directory.
      if (!DNS_NAME.test(value)) throw new MeshlinkError('invalid-argument', `${what} "${value}" is not a valid Kubernetes name`);
    }
    return join(this.dir, namespace, `${kind.toLowerCase()}-${name}.yaml`);
  }

  private patchFile(namespace: string, name: string): string {
    return this.objectFile(namespace, 'Service', name).replace(/\.yaml$/, PATCH_SUFFIX);
  }

  private async patchPorts(namespace: string, name: string): Promise<ServicePort[]> {
    const file = this.patchFile(namespace, name);
    const text = await readText(file);
    return text === undefined ? [] : toPorts((parseYaml(text, file) as ServiceDoc).spec?.ports);
  }

  private async writePatch(namespace: string, name: string, ports: ServicePort[]): Promise<void> {
    const file = this.patchFile(namespace, name);
    if (ports.length === 0) {
      await this.remove(file);
      return;
    }
    const patch = { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { ports } };
    const data = yamlText(patch);
    await this.writeAll([{ file, data, mode: 0o644 }]);
    // Read back on every sync of a link through that Service, and longer with each link: known without parsing.
    rememberParsed(data, patch);
  }

  /**
   * Writes the files (durable-file.ts writeAllDurably), creating their directories first: once per
   * target, and again (then the write once more) when one was removed meanwhile.
   */
  private async writeAll(files: FileWrite[]): Promise<void> {
    if (files.length === 0) return;
    const write = async () => {
      for (const dir of new Set(files.map((f) => dirname(f.file)))) {
        if (this.dirs.has(dir)) continue;
        await ensureDir(dir, 0o700, this.fs);
        this.dirs.add(dir);
      }
      await writeAllDurably(files, this.fs);
    };
    try {
      try {
        await write();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || this.dirs.size === 0) throw err;
        this.dirs.clear();
        await write();
      }
    } catch (err) {
      throw new MeshlinkError('unavailable', `cannot write ${files.map((f) => f.file).join(', ')}`, { cause: err });
    }
  }

  /** A removed file stays removed after a power loss: the directory is synced. */
  private async remove(file: string): Promise<void> {
    try {
      this.indexed(file, undefined);
      await this.fs.rm(file, { force: true });
      await syncDir(dirname(file), this.fs);
    } catch (err) {
      throw new MeshlinkError('unavailable', `cannot remove ${file}`, { cause: err });
    }
  }
}

interface ServiceDoc {
  spec?: { ports?: unknown[] };
  status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } };
}

function sameRevision(existing: ObjectHeader | null, desired: KubeObject): boolean {
  const want = desired.metadata.annotations?.[ANNOTATION_REVISION];
  if (want === undefined) return false;
  return existing?.metadata?.annotations?.[ANNOTATION_REVISION] === want;
}

function toPorts(raw: unknown[] | undefined): ServicePort[] {
  const ports: ServicePort[] = [];
  for (const item of raw ?? []) {
    const p = item as Record<string, unknown>;
    if (typeof p.port !== 'number') continue;
    ports.push({
      name: typeof p.name === 'string' ? p.name : '',
      port: p.port,
      ...(typeof p.targetPort === 'number' ? { targetPort: p.targetPort } : {}),
      ...(p.protocol === 'TCP' || p.protocol === 'UDP' || p.protocol === 'SCTP' ? { protocol: p.protocol } : {}),
    });
  }
  return ports;
}

/** `base` followed by the ports of `extra` whose number `base` lacks (the strategic-merge result). */
function mergePorts(base: ServicePort[], extra: ServicePort[]): ServicePort[] {
  const have = new Set(base.map((p) => p.port));
  return [...base, ...extra.filter((p) => !have.has(p.port))];
}

/** What checks and listings read of an object's file: its kind and metadata, never a Secret's data. */
type ObjectHeader = Pick<Partial<KubeObject>, 'kind' | 'metadata'>;

/**
 * Headers by the digest of the file's text (a digest, so no key is kept): every check, apply and
 * listing reads files the last one wrote, and a listing reads every link's Secret (parsed whole on
 * each create before). Bounded, with room for a listing of thousands of links.
 */
const headers = new Map<string, ObjectHeader | null>();
const HEADERS_KEPT = 16_384;

const digestOf = (text: string) => createHash('sha256').update(text).digest('base64');

function keepHeader(digest: string, header: ObjectHeader | null): ObjectHeader | null {
  return setBounded(headers, HEADERS_KEPT, digest, header);
}

function headerOf(text: string, where: string): ObjectHeader | null {
  const digest = digestOf(text);
  if (headers.has(digest)) return headers.get(digest)!;
  const parsed = parseText(text, where) as Partial<KubeObject> | null;
  return keepHeader(digest, parsed && typeof parsed === 'object' ? { kind: parsed.kind, metadata: parsed.metadata } : null);
}

/** The header of the text just written for `object` (its YAML reads back as the object). */
function rememberHeader(text: string, object: KubeObject): ObjectHeader {
  return keepHeader(digestOf(text), { kind: object.kind, metadata: structuredClone(object.metadata) })!;
}

function parseText(text: string, where: string): unknown {
  try {
    return yaml().parse(text);
  } catch (cause) {
    throw new MeshlinkError('internal', `cannot parse YAML file for ${where}`, { cause });
  }
}

/**
 * Parsed Service and ports-patch files by their text: each create and repeat reads the gateway
 * Service's again. Bounded; a Secret (key material) is never kept; callers get a copy.
 */
const parsedTexts = new Map<string, unknown>();
const PARSED_TEXTS_KEPT = 512;

function parseYaml(text: string, where: string): unknown {
  if (parsedTexts.has(text)) return structuredClone(parsedTexts.get(text));
  const parsed = parseText(text, where);
  if ((parsed as { kind?: unknown } | null)?.kind !== 'Secret') rememberParsed(text, parsed);
  return parsed;
}

/** What `text` parses to (never a Secret's), kept for the next read of that text. */
function rememberParsed(text: string, parsed: unknown): void {
  setBounded(parsedTexts, PARSED_TEXTS_KEPT, text, structuredClone(parsed));
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFileText(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MeshlinkError('unavailable', `cannot read ${file}`, { cause: err });
  }
}

/** The files below `dir` whose name passes `wanted`, sorted (none if `dir` does not exist). */
async function listFiles(dir: string, wanted: (name: string) => boolean): Promise<string[]> {
  let entries;
  try {
    entries = await readdirDeep(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new MeshlinkError('unavailable', `cannot list ${dir}`, { cause: err });
  }
  return entries
    .filter((e) => e.isFile() && wanted(e.name))
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))
    .sort();
}
