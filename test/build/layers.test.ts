// The layers of shared/ (docs/architecture.md): the pure core imports no use-case, adapter or SDK;
// use-cases reach adapters only through their ports; an adapter imports no other adapter and no
// use-case (but the in-process queue, which is the local worker: it calls rotateLink).
import { relative, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { files, importsOf, ROOT } from '../support/production-imports.js';

const CORE = ['link', 'pki', 'mesh', 'rotation'];
const ADAPTERS = ['store', 'clusters', 'queue', 'probe', 'cas'];
/** Modules with I/O or a cloud or cluster SDK: none belongs in the core or the use-cases. */
const IO_PACKAGES = /^(node:(fs|net|http|https|dgram|child_process)|@google-cloud\/|@kubernetes\/|@grpc\/|google-auth-library)/;

/** The folder under shared/ (or the top-level file) a module is in. */
const layerOf = (file: string) => relative(join(ROOT, 'shared'), file).split('/')[0]!;
const isPort = (file: string) => /\/port\.ts$/.test(file);

function violations(folders: string[], allowed: (target: string, typeOnly: boolean, from: string) => boolean): string[] {
  return folders.flatMap((folder) =>
    files(join(ROOT, 'shared', folder)).flatMap((file) =>
      importsOf(file)
        .filter(({ target, typeOnly }) => !allowed(target, typeOnly, file))
        .map(({ target }) => `${relative(ROOT, file)} -> ${target.startsWith('/') ? relative(ROOT, target) : target}`),
    ),
  );
}

describe('the layers of shared/', () => {
  // require-library.ts loads a library's code (pki/x509.ts opens @peculiar/x509 through it), as an import would.
  it('the pure core imports only the core, errors, the library loader, and the types of a port', () => {
    expect(
      violations(CORE, (target, typeOnly) => {
        if (!target.startsWith('/')) return !IO_PACKAGES.test(target);
        const layer = layerOf(target);
        return CORE.includes(layer) || layer === 'errors.ts' || layer === 'require-library.ts' || (typeOnly && isPort(target));
      }),
    ).toEqual([]);
  });

  it('use-cases reach adapters only through their ports, and no SDK', () => {
    expect(violations(['app'], (target) => (target.startsWith('/') ? !ADAPTERS.includes(layerOf(target)) || isPort(target) : !IO_PACKAGES.test(target)))).toEqual([]);
  });

  it('an adapter imports no other adapter and no use-case (the in-process queue calls rotateLink)', () => {
    expect(
      violations(ADAPTERS, (target, typeOnly, from) => {
        if (!target.startsWith('/')) return true;
        const layer = layerOf(target);
        if (layer === 'app') return typeOnly || from.endsWith('queue/in-process-rotation-queue.ts');
        return !ADAPTERS.includes(layer) || layer === layerOf(from);
      }),
    ).toEqual([]);
  });
});
