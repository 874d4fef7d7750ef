/**
 * What a sysroot needs from the machine beyond plain files: an exclusive
 * lock that dies with its holder, the immutable flag on deployment
 * directories, and symlinks replaced in one rename (free space is the host
 * environment's: host-env.ts).
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { randomSuffix } from './fs.js';
import { Codes, OstreeTsError } from '../errors/index.js';
import { lockExclusive } from './ofd-lock.js';

export interface HeldLock {
  release(): Promise<void>;
}

/**
 * Take an exclusive OFD lock on `file` (libostree's kind, so that ostree and
 * ostree-ts exclude each other), created if need be in its directory, which
 * must exist. `wait` false: give up at once when it is held (resolves null);
 * otherwise wait, up to `timeoutMs` when given. The lock goes when released,
 * or with this process, however it ends.
 */
export async function lockFile(file: string, opts: { wait?: boolean; timeoutMs?: number; removeOnRelease?: boolean } = {}): Promise<HeldLock | null> {
  const wait = opts.wait !== false;
  const held = await lockExclusive(file, { timeoutMs: wait ? opts.timeoutMs ?? null : 0 });
  if (!held) return null;
  return {
    release: async () => {
      // As libostree (glnx) releases an exclusive lock: the file is unlinked while still held, so it is not left
      // behind; a waiter that locked the unlinked file sees that it is no longer current and opens the new one.
      if (opts.removeOnRelease && (await held.isCurrent().catch(() => false))) await fsp.rm(file, { force: true }).catch(() => undefined);
      await held.close();
    },
  };
}

/** Set or clear the immutable attribute (chattr ±i). Filesystems without it are left alone. */
export function setImmutable(p: string, on: boolean): Promise<void> {
  return new Promise((resolve) => {
    execFile('chattr', ['-f', on ? '+i' : '-i', p], () => resolve());
  });
}

/** Point the symlink `link` at `target` in one rename (write `link.tmp…`, rename over). */
export async function replaceSymlink(target: string, link: string): Promise<void> {
  const tmp = path.join(path.dirname(link), `.${path.basename(link)}.tmp-${randomSuffix()}`);
  await fsp.symlink(target, tmp);
  try {
    await fsp.rename(tmp, link);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}
