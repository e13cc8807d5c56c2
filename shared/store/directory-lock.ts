// One process at a time on a local store directory. Two processes appending to one journal would
// write frames over each other's (each appends at the end it tracks), and the replay would cut the
// journal at the first torn frame, dropping every acknowledged write after it. The lock is a file
// naming its owner's pid, linked into place whole (O_EXCL semantics without a moment where it is
// empty); a lock whose process is gone (killed) is taken over, and so is one naming this process's
// own pid (a restarted container's process often has the pid its predecessor had). It guards
// against a second process started by mistake, not against a race of starts: two processes that
// take over the same stale lock at the same moment could both hold it.
import fs from 'node:fs';
import path from 'node:path';
import { tempSuffix } from '../durable-file.js';
import { MeshlinkError } from '../errors.js';

export const LOCK = 'store.lock';

/** Lock files this process holds: released when it exits. */
const held = new Set<string>();

function releaseAll(): void {
  for (const file of held) fs.rmSync(file, { force: true });
  held.clear();
}

/** Does a process with this pid run (one of another user counts: signalling it is refused)? */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ownerOf(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Makes the lock file `file`, naming this process, unless it exists. */
function create(file: string): boolean {
  const temp = `${file}.tmp-${tempSuffix()}`;
  fs.writeFileSync(temp, `${process.pid}\n`, { mode: 0o600 });
  try {
    fs.linkSync(temp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

/**
 * Takes the directory `root` (which exists) for this process, for the rest of its life; refuses
 * with `unavailable`, naming the other process, while another process holds it.
 */
export function lockDirectory(root: string): void {
  const file = path.join(root, LOCK);
  if (held.has(file)) return;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (create(file)) {
      if (held.size === 0) process.once('exit', releaseAll);
      held.add(file);
      return;
    }
    const owner = ownerOf(file);
    if (owner !== undefined && owner !== process.pid && running(owner)) {
      throw new MeshlinkError('unavailable', `the state directory ${root} is in use by process ${owner} (${file}): one meshlink process per state directory; stop that process, or remove the file if it is not meshlink`);
    }
    // Left by a process that is gone (or by this pid's former holder): taken over.
    fs.rmSync(file, { force: true });
  }
  throw new MeshlinkError('unavailable', `cannot lock the state directory ${root}: ${file} keeps coming back`);
}

/** Gives the directory `root` back (its store closed), if this process holds it. */
export function unlockDirectory(root: string): void {
  const file = path.join(root, LOCK);
  if (held.delete(file)) fs.rmSync(file, { force: true });
}
