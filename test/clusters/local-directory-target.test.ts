// The local directory target: YAML files for kubectl, revision skip, Secret modes, ports patch.
import fs from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalDirectoryTarget } from '../../shared/clusters/local-directory-target.js';
import { isMeshlinkError } from '../../shared/errors.js';
import { yaml } from '../../shared/yaml.js';
import { LABEL_LINK } from '../../shared/link/names.js';
import { credentialSecret, ingressGateway, inNamespace, KINDS, labelledFor, linkObjects, originateDestinationRule } from './objects.js';
import { recordingFs } from '../support/recording-fs.js';

const NS = 'istio-system';

describe('LocalDirectoryTarget', () => {
  let dir: string;
  let target: LocalDirectoryTarget;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshlink-local-'));
    target = new LocalDirectoryTarget('server', dir);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const file = (name: string) => join(dir, NS, name);
  const read = async (name: string) => parse(await readFile(file(name), 'utf8'));
  const seedService = async (ports: { name: string; port: number }[], ip?: string) => {
    await mkdir(join(dir, NS), { recursive: true });
    const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'istio-ingressgateway', namespace: NS }, spec: { ports }, ...(ip ? { status: { loadBalancer: { ingress: [{ ip }] } } } : {}) };
    await writeFile(file('service-istio-ingressgateway.yaml'), stringify(service));
  };

  describe('apply', () => {
    it('writes one YAML file per object, named <namespace>/<kind>-<name>.yaml', async () => {
      const objects = linkObjects('mysql');
      const result = await target.apply(objects);

      expect(result.map((r) => r.outcome)).toEqual(['created', 'created', 'created']);
      expect((await readdir(join(dir, NS))).sort()).toEqual(['destinationrule-originate-mtls-for-mysql.yaml', 'gateway-mysql-ingress.yaml', 'secret-meshlink-mysql-server.yaml']);
      expect(await read('gateway-mysql-ingress.yaml')).toEqual(ingressGateway('mysql'));
      expect(await read('secret-meshlink-mysql-server.yaml')).toEqual(credentialSecret('mysql', 'server'));
    });

    it.each([
      { kind: 'Secret', name: 'secret-meshlink-mysql-server.yaml', mode: 0o600 },
      { kind: 'Gateway', name: 'gateway-mysql-ingress.yaml', mode: 0o644 },
    ])('writes a $kind file with mode $mode', async ({ name, mode }) => {
      await target.apply(linkObjects('mysql'));
      expect((await stat(file(name))).mode & 0o777).toBe(mode);
    });

    it('skips objects whose file carries the same revision, without writing', async () => {
      await target.apply(linkObjects('mysql'));
      const before = (await stat(file('secret-meshlink-mysql-server.yaml'))).ino;
      const gatewayBefore = (await stat(file('gateway-mysql-ingress.yaml'))).ino;

      const result = await target.apply([ingressGateway('mysql'), originateDestinationRule('mysql'), credentialSecret('mysql', 'server', 'r2')]);

      expect(result.map((r) => r.outcome)).toEqual(['unchanged', 'unchanged', 'updated']);
      // Atomic replace: a new inode for the rewritten file, the same for the skipped ones.
      expect((await stat(file('secret-meshlink-mysql-server.yaml'))).ino).not.toBe(before);
      expect((await stat(file('gateway-mysql-ingress.yaml'))).ino).toBe(gatewayBefore);
      expect((await read('secret-meshlink-mysql-server.yaml')).data).toEqual(credentialSecret('mysql', 'server', 'r2').data);
      expect((await readdir(join(dir, NS))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    });

    it('does not rewrite a file whose revision matches even if its text differs', async () => {
      await target.apply([ingressGateway('mysql')]);
      const edited = { ...ingressGateway('mysql'), spec: { edited: true } };
      expect((await target.apply([edited]))[0]?.outcome).toBe('unchanged');
      expect((await read('gateway-mysql-ingress.yaml')).spec).toEqual(ingressGateway('mysql').spec);
    });

    it.each([
      { case: 'a name with a slash', object: { ...ingressGateway('x'), metadata: { name: '../escape', namespace: NS } } },
      { case: 'a namespace with ..', object: { ...ingressGateway('x'), metadata: { name: 'gw', namespace: '..' } } },
    ])('refuses $case', async ({ object }) => {
      await expect(target.apply([object])).rejects.toSatisfy((e) => isMeshlinkError(e, 'invalid-argument'));
    });
  });

  describe('Services', () => {
    it('knows no Service unless a file was dropped in', async () => {
      expect(await target.getService(NS, 'istio-ingressgateway')).toBeUndefined();
      await seedService([{ name: 'https', port: 443 }], '203.0.113.7');
      expect(await target.getService(NS, 'istio-ingressgateway')).toEqual({
        namespace: NS,
        name: 'istio-ingressgateway',
        ports: [{ name: 'https', port: 443 }],
        address: '203.0.113.7',
      });
    });

    it('writes the ports to add as a strategic-merge patch, merged with earlier ones', async () => {
      expect(await target.ensureServicePorts(NS, 'istio-ingressgateway', [{ name: 'tls-a', port: 15443 }])).toEqual([{ name: 'tls-a', port: 15443 }]);
      expect(await target.ensureServicePorts(NS, 'istio-ingressgateway', [{ name: 'tls-a', port: 15443 }, { name: 'tls-b', port: 15444, protocol: 'TCP' }])).toEqual([
        { name: 'tls-b', port: 15444, protocol: 'TCP' },
      ]);
      expect(await read('service-istio-ingressgateway.ports-patch.yaml')).toEqual({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'istio-ingressgateway', namespace: NS },
        spec: { ports: [{ name: 'tls-a', port: 15443 }, { name: 'tls-b', port: 15444, protocol: 'TCP' }] },
      });
      expect(await target.ensureServicePorts(NS, 'istio-ingressgateway', [{ name: 'tls-a', port: 15443 }])).toEqual([]);
    });

    it('does not patch in a port the dropped-in Service already has, and reports the patched ports', async () => {
      await seedService([{ name: 'https', port: 443 }]);
      expect(await target.ensureServicePorts(NS, 'istio-ingressgateway', [{ name: 'https', port: 443 }, { name: 'tls-a', port: 15443 }])).toEqual([{ name: 'tls-a', port: 15443 }]);
      expect((await target.getService(NS, 'istio-ingressgateway'))?.ports).toEqual([{ name: 'https', port: 443 }, { name: 'tls-a', port: 15443 }]);
    });

    it.each([
      { what: 'through one target', targets: 1 },
      { what: 'through two targets on one directory', targets: 2 },
    ])('keeps every port when links add and remove ports of one Service at once, $what (no lost update)', async ({ targets }) => {
      const others = Array.from({ length: targets }, () => new LocalDirectoryTarget('server', dir));
      const ports = Array.from({ length: 12 }, (_, i) => ({ name: `tls-link-${i}`, port: 20_000 + i }));
      await Promise.all(ports.map((p, i) => others[i % targets]!.ensureServicePorts(NS, 'istio-ingressgateway', [p])));
      expect((await read('service-istio-ingressgateway.ports-patch.yaml')).spec.ports).toEqual(expect.arrayContaining(ports));
      expect((await read('service-istio-ingressgateway.ports-patch.yaml')).spec.ports).toHaveLength(ports.length);

      await Promise.all(ports.slice(0, 6).map((p) => target.removeServicePorts(NS, 'istio-ingressgateway', [p.name])));
      expect((await read('service-istio-ingressgateway.ports-patch.yaml')).spec.ports).toEqual(expect.arrayContaining(ports.slice(6)));
      expect((await read('service-istio-ingressgateway.ports-patch.yaml')).spec.ports).toHaveLength(6);
    });

    it.each([
      { case: 'a moved port of its own replaces the old one', own: ['tls-a'], want: [{ name: 'tls-b', port: 15444 }, { name: 'tls-a', port: 15445 }] },
      { case: 'without own both stay (the old behaviour)', own: [], want: [{ name: 'tls-a', port: 15443 }, { name: 'tls-b', port: 15444 }, { name: 'tls-a', port: 15445 }] },
    ])('$case in the patch file', async ({ own, want }) => {
      await target.ensureServicePorts(NS, 'istio-ingressgateway', [{ name: 'tls-a', port: 15443 }, { name: 'tls-b', port: 15444 }]);
      expect(await target.ensureServicePorts(NS, 'istio-ingressgateway', [{ name: 'tls-a', port: 15445 }], own)).toEqual([{ name: 'tls-a', port: 15445 }]);
      expect((await read('service-istio-ingressgateway.ports-patch.yaml')).spec.ports).toEqual(want);
    });

    it('removes ports from the patch file and the file once empty', async () => {
      await target.ensureServicePorts(NS, 'istio-ingressgateway', [{ name: 'tls-a', port: 15443 }, { name: 'tls-b', port: 15444 }]);

      expect(await target.removeServicePorts(NS, 'istio-ingressgateway', ['tls-a', 'absent'])).toEqual(['tls-a']);
      expect((await read('service-istio-ingressgateway.ports-patch.yaml')).spec.ports).toEqual([{ name: 'tls-b', port: 15444 }]);

      expect(await target.removeServicePorts(NS, 'istio-ingressgateway', ['tls-b'])).toEqual(['tls-b']);
      await expect(stat(file('service-istio-ingressgateway.ports-patch.yaml'))).rejects.toMatchObject({ code: 'ENOENT' });
      expect(await target.removeServicePorts(NS, 'istio-ingressgateway', ['tls-b'])).toEqual([]);
    });
  });

  describe('ownership (invariant 6)', () => {
    const taken = `Gateway ${NS}/mysql-ingress on cluster server belongs to link orders`;
    const contents = async () => Promise.all((await readdir(join(dir, NS))).sort().map(async (f) => [f, await readFile(file(f), 'utf8')]));

    it('refuses the whole apply when a file holds an object labelled for another link: a conflict naming it, nothing written', async () => {
      await target.apply([labelledFor(ingressGateway('mysql'), 'orders')]);
      const before = await contents();

      await expect(target.apply(linkObjects('mysql'))).rejects.toMatchObject({ code: 'conflict', details: [{ path: 'name', message: taken }] });
      expect(await contents()).toEqual(before);
    });

    it('checkOwners reads only: the same conflict, and nothing for objects absent or the link\'s own', async () => {
      await target.apply([labelledFor(ingressGateway('mysql'), 'orders'), credentialSecret('mysql', 'server')]);
      const before = await contents();

      await expect(target.checkOwners(linkObjects('mysql'))).rejects.toMatchObject({ code: 'conflict', details: [{ message: taken }] });
      await expect(target.checkOwners([credentialSecret('mysql', 'server'), originateDestinationRule('mysql')])).resolves.toBeUndefined();
      expect(await contents()).toEqual(before);
    });
  });

  it('parses a file it did not write once: checks, applies and listings read its kind and metadata again without parsing (Secrets included), and those of what it wrote', async () => {
    const links = ['a', 'b', 'c'];
    for (const link of links) await target.apply(linkObjects(link));
    // Each file read once (and parsed): a check of every link.
    for (const link of links) expect(await target.isCurrent(linkObjects(link))).toBe(true);
    const parse = vi.spyOn(yaml(), 'parse');

    for (const link of links) expect(await target.isCurrent(linkObjects(link))).toBe(true);
    expect(await target.deleteByLabel({ [LABEL_LINK]: 'gone' }, [KINDS.secret, KINDS.gateway])).toBe(0);
    await target.apply(linkObjects('a', 'r2'));
    // What it wrote, it knows without reading it back.
    expect(await target.isCurrent(linkObjects('a', 'r2'))).toBe(true);
    expect(await target.deleteByLabel({ [LABEL_LINK]: 'gone' }, [KINDS.secret, KINDS.gateway])).toBe(0);

    expect(parse).not.toHaveBeenCalled();
    parse.mockRestore();
  });

  it('writes no YAML through the library and parses none of its own ports patches: a sync per link read the growing patch back', async () => {
    await seedService([{ name: 'https', port: 443 }]);
    const [parse, write] = [vi.spyOn(yaml(), 'parse'), vi.spyOn(yaml(), 'stringify')];
    await target.getService(NS, 'istio-ingressgateway'); // the dropped-in Service: parsed once (if not yet in this process)
    parse.mockClear();
    for (let port = 20_000; port < 20_010; port++) {
      await target.ensureServicePorts(NS, 'istio-ingressgateway', [{ name: `tls-${port}`, port }]);
      expect((await target.getService(NS, 'istio-ingressgateway'))!.ports).toHaveLength(port - 20_000 + 2);
      await target.apply(linkObjects(`l${port}`));
    }
    expect(parse).not.toHaveBeenCalled();
    expect(write).not.toHaveBeenCalled();
    [parse, write].forEach((spy) => spy.mockRestore());
    expect((await read('service-istio-ingressgateway.ports-patch.yaml')).spec.ports).toHaveLength(10);
  });

  describe('deleteByLabel', () => {
    /** Object files read while `work` runs. */
    async function filesRead(work: () => Promise<unknown>): Promise<string[]> {
      const readFile = vi.spyOn(fs, 'readFileSync');
      try {
        await work();
        return readFile.mock.calls.map(([f]) => String(f)).filter((f) => f.endsWith('.yaml'));
      } finally {
        readFile.mockRestore();
      }
    }

    it('reads each file once per process, written before it started included; then none, however many links', async () => {
      // Written by an earlier process: found by the first listing.
      await new LocalDirectoryTarget('server', dir).apply([...linkObjects('a'), ...linkObjects('b')]);
      expect(await filesRead(() => target.deleteByLabel({ [LABEL_LINK]: 'gone' }, [KINDS.gateway]))).toHaveLength(6);

      for (const link of ['c', 'd', 'e']) await target.apply(linkObjects(link));
      const reads = await filesRead(async () => {
        expect(await target.deleteByLabel({ [LABEL_LINK]: 'gone' }, [KINDS.gateway, KINDS.secret])).toBe(0);
        expect(await target.deleteByLabel({ [LABEL_LINK]: 'd' }, [KINDS.gateway], NS)).toBe(1);
        // Another target on the directory sees what this one wrote and removed.
        expect(await new LocalDirectoryTarget('other', dir).deleteByLabel({ [LABEL_LINK]: 'd' }, [KINDS.gateway, KINDS.secret])).toBe(1);
        expect(await target.deleteByLabel({ [LABEL_LINK]: 'a' }, [KINDS.secret])).toBe(1);
      });
      expect(reads).toEqual([]);
      expect((await readdir(join(dir, NS))).filter((f) => f.includes('-d-') || f.endsWith('-d.yaml') || f.includes('-a-server'))).toEqual(['destinationrule-originate-mtls-for-d.yaml']);
    });

    it('reads no file for an object its listing knows is absent: a new link\'s check and apply read nothing; a file known but removed or changed by hand is still read', async () => {
      await target.apply(linkObjects('a'));
      expect(await target.deleteByLabel({ [LABEL_LINK]: 'gone' }, [KINDS.gateway])).toBe(0); // lists the directory

      const reads = await filesRead(async () => {
        await target.checkOwners(linkObjects('n'));
        expect((await target.apply(linkObjects('n'))).map((a) => a.outcome)).toEqual(linkObjects('n').map(() => 'created'));
      });
      expect(reads).toEqual([]);

      const [first, second] = linkObjects('a');
      const gone = `${first!.kind.toLowerCase()}-${first!.metadata.name}.yaml`;
      await rm(file(gone));
      const changed = `${second!.kind.toLowerCase()}-${second!.metadata.name}.yaml`;
      await writeFile(file(changed), stringify({ ...second, metadata: { ...second!.metadata, annotations: {} } }));
      expect((await target.apply(linkObjects('a'))).map((a) => a.outcome).slice(0, 2)).toEqual(['created', 'updated']);
      expect(await target.isCurrent(linkObjects('a'))).toBe(true);
    });

    it('spares the objects named in keep, by kind and name', async () => {
      await target.apply(linkObjects('a'));
      const count = await target.deleteByLabel({ [LABEL_LINK]: 'a' }, [KINDS.gateway, KINDS.secret], NS, [
        { kind: 'Gateway', name: ingressGateway('a').metadata.name },
        { kind: 'Gateway', name: credentialSecret('a', 'server').metadata.name }, // another kind's name keeps nothing
      ]);
      expect(count).toBe(1);
      expect((await readdir(join(dir, NS))).sort()).toEqual(['destinationrule-originate-mtls-for-a.yaml', 'gateway-a-ingress.yaml']);
    });

    it('deletes the files of the given kinds whose object carries all the labels', async () => {
      await target.apply([...linkObjects('a'), ...linkObjects('b')]);
      await target.ensureServicePorts(NS, 'istio-ingressgateway', [{ name: 'tls-a', port: 15443 }]);

      expect(await target.deleteByLabel({ [LABEL_LINK]: 'a' }, [KINDS.gateway, KINDS.secret])).toBe(2);
      expect((await readdir(join(dir, NS))).sort()).toEqual([
        'destinationrule-originate-mtls-for-a.yaml',
        'destinationrule-originate-mtls-for-b.yaml',
        'gateway-b-ingress.yaml',
        'secret-meshlink-b-server.yaml',
        'service-istio-ingressgateway.ports-patch.yaml',
      ]);
      expect(await target.deleteByLabel({ [LABEL_LINK]: 'a', 'meshlink.io/side': 'server' }, [KINDS.destinationRule])).toBe(0);
      expect(await target.deleteByLabel({ [LABEL_LINK]: 'a', 'meshlink.io/side': 'client' }, [KINDS.destinationRule])).toBe(1);
    });

    it('deletes in one namespace only when given one, leaving the same objects elsewhere', async () => {
      await target.apply([...linkObjects('a'), ...inNamespace(linkObjects('a'), 'old-gateways')]);

      expect(await target.deleteByLabel({ [LABEL_LINK]: 'a' }, [KINDS.gateway, KINDS.destinationRule, KINDS.secret], 'old-gateways')).toBe(3);
      expect(await readdir(join(dir, 'old-gateways'))).toEqual([]);
      expect(await readdir(join(dir, NS))).toHaveLength(3);
      await expect(target.deleteByLabel({ [LABEL_LINK]: 'a' }, [KINDS.secret], '../escape')).rejects.toSatisfy((e) => isMeshlinkError(e, 'invalid-argument'));
    });

    it('refuses an empty label set, which would match everything', async () => {
      await target.apply(linkObjects('a'));
      await expect(target.deleteByLabel({}, [KINDS.secret])).rejects.toSatisfy((e) => isMeshlinkError(e, 'invalid-argument'));
      expect(await readdir(join(dir, NS))).toHaveLength(3);
    });

    it('counts nothing in a directory never written', async () => {
      expect(await new LocalDirectoryTarget('none', join(dir, 'missing')).deleteByLabel({ [LABEL_LINK]: 'a' }, [KINDS.secret])).toBe(0);
    });
  });

  it('cannot tell where gateway pods run, even with a pod file among its objects', async () => {
    await mkdir(join(dir, 'gateways'), { recursive: true });
    await writeFile(join(dir, 'gateways', 'pod-egress.yaml'), stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'egress', namespace: 'gateways', labels: { istio: 'egressgateway' } }, status: { phase: 'Running' } }));
    expect(await target.findGatewayNamespaces({ istio: 'egressgateway' })).toBeUndefined();
  });
});

describe('LocalDirectoryTarget durability', () => {
  let base: string;
  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'meshlink-local-'));
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('writes, fsyncs the file, renames, then fsyncs the directory; new directories and removals are synced too', async () => {
    const { fs, events } = recordingFs(base);
    const target = new LocalDirectoryTarget('server', join(base, 'server'), fs);
    const file = 'server/istio-system/secret-meshlink-mysql-server.yaml';
    const written = [`write ${file}.tmp-*`, `fsync ${file}.tmp-*`, `rename ${file}.tmp-* -> ${file}`, 'fsync server/istio-system'];

    await target.apply([credentialSecret('mysql', 'server')]);
    expect(events.splice(0)).toEqual(['mkdir server/istio-system', 'fsync .', ...written]);

    // A directory it made or found is known: no mkdir again.
    await target.apply([credentialSecret('mysql', 'server', 'r2')]);
    expect(events.splice(0)).toEqual(written);

    expect(await target.deleteByLabel({ [LABEL_LINK]: 'mysql' }, [KINDS.secret])).toBe(1);
    expect(events.splice(0)).toEqual([`rm ${file}`, 'fsync server/istio-system']);
  });

  it('makes a directory removed by hand again, in the same apply', async () => {
    const { fs, events } = recordingFs(base);
    const target = new LocalDirectoryTarget('server', join(base, 'server'), fs);
    await target.apply([credentialSecret('mysql', 'server')]);
    await rm(join(base, 'server', NS), { recursive: true });
    events.splice(0);

    expect((await target.apply([credentialSecret('mysql', 'server', 'r2')])).map((a) => a.outcome)).toEqual(['created']);
    expect(events.filter((e) => e.startsWith('mkdir'))).toEqual(['mkdir server/istio-system']);
    expect(await readdir(join(base, 'server', NS))).toEqual(['secret-meshlink-mysql-server.yaml']);
  });

  it('writes the files of one apply at once and fsyncs each directory once, after all of its renames', async () => {
    const { fs, events } = recordingFs(base);
    const target = new LocalDirectoryTarget('server', join(base, 'server'), fs);
    const objects = [credentialSecret('mysql', 'server'), ingressGateway('mysql'), ...inNamespace([originateDestinationRule('mysql')], 'other')];
    const files = ['server/istio-system/secret-meshlink-mysql-server.yaml', 'server/istio-system/gateway-mysql-ingress.yaml', 'server/other/destinationrule-originate-mtls-for-mysql.yaml'];

    await target.apply(objects);

    expect(events.filter((e) => e.startsWith('mkdir'))).toEqual(['mkdir server/istio-system', 'mkdir server/other']);
    const renames = files.map((f) => events.indexOf(`rename ${f}.tmp-* -> ${f}`));
    const syncs = ['fsync server/istio-system', 'fsync server/other'].map((e) => events.indexOf(e));
    expect(events.filter((e) => e.startsWith('fsync server/') && !e.endsWith('.tmp-*')).sort()).toEqual(['fsync server/istio-system', 'fsync server/other']);
    // Every temp file is fsynced before the first rename; every rename before its directory's fsync.
    for (const f of files) expect(events.indexOf(`fsync ${f}.tmp-*`)).toBeLessThan(Math.min(...renames));
    expect(Math.max(...renames)).toBeLessThan(Math.min(...syncs));
  });

  it('removes the temp files killed writes left (a Secret’s holds a key) before its first change', async () => {
    const dir = join(base, 'server');
    await mkdir(join(dir, NS), { recursive: true });
    const stale = ['secret-meshlink-mysql-server.yaml.tmp-deadbeef', 'gateway-mysql-ingress.yaml.0123456789ab.tmp'];
    for (const name of stale) await writeFile(join(dir, NS, name), 'tls.key: ...', { mode: 0o600 });
    await new LocalDirectoryTarget('server', dir).apply([ingressGateway('mysql')]);
    expect(await readdir(join(dir, NS))).toEqual(['gateway-mysql-ingress.yaml']);
  });
});
