// deleteByLabel on a local directory looks at the files of the link its labels name, not at every
// object file of the directory: a create's sweep for objects under former names ran a label match
// over every file of its cluster, a cost growing with the links there.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalDirectoryTarget } from '../../shared/clusters/local-directory-target.js';
import { LABEL_LINK, LABEL_SIDE } from '../../shared/link/names.js';
import { KINDS, linkObjects } from './objects.js';

/** Label matches made, one per object file looked at. */
const matched = vi.hoisted(() => ({ count: 0 }));

vi.mock('../../shared/clusters/selector.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../shared/clusters/selector.js')>();
  return {
    ...original,
    matchesLabels: (...args: Parameters<typeof original.matchesLabels>) => {
      matched.count++;
      return original.matchesLabels(...args);
    },
  };
});

describe('LocalDirectoryTarget deleteByLabel', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshlink-by-link-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("looks at the named link's files only, however many links the directory holds, and still finds what it wrote and removed", async () => {
    const target = new LocalDirectoryTarget('server', dir);
    const links = Array.from({ length: 20 }, (_, i) => `l${i}`);
    for (const link of links) await target.apply(linkObjects(link));
    expect(await target.deleteByLabel({ [LABEL_LINK]: 'gone' }, [KINDS.gateway])).toBe(0); // lists the directory once
    matched.count = 0;

    expect(await target.deleteByLabel({ [LABEL_LINK]: 'l3', [LABEL_SIDE]: 'server' }, [KINDS.gateway, KINDS.secret])).toBe(2);
    expect(await target.deleteByLabel({ [LABEL_LINK]: 'nobody' }, [KINDS.gateway, KINDS.secret, KINDS.destinationRule])).toBe(0);
    expect(matched.count).toBeLessThanOrEqual(linkObjects('l3').length);

    // A removed object is gone; written again, it is found again.
    expect(await target.deleteByLabel({ [LABEL_LINK]: 'l5' }, [KINDS.gateway])).toBe(1);
    expect(await target.deleteByLabel({ [LABEL_LINK]: 'l5' }, [KINDS.gateway])).toBe(0);
    await target.apply(linkObjects('l5'));
    expect(await target.deleteByLabel({ [LABEL_LINK]: 'l5' }, [KINDS.gateway])).toBe(1);
    // A selector without a link label still looks at every file.
    expect(await target.deleteByLabel({ [LABEL_SIDE]: 'client' }, [KINDS.destinationRule])).toBe(links.length);
  });
});
