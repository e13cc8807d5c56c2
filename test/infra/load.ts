// Reads and parses every infra/*.tf with @cdktf/hcl2json (a parse error fails the test: it is the syntax check).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from '@cdktf/hcl2json';
import type { HclFile } from './model.js';

export const INFRA_DIR = fileURLToPath(new URL('../../infra/', import.meta.url));

export async function loadInfra(dir: string = INFRA_DIR): Promise<{ name: string; json: HclFile }[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.tf')).sort();
  return Promise.all(names.map(async (name) => ({ name, json: (await parse(name, await readFile(join(dir, name), 'utf8'))) as HclFile })));
}
