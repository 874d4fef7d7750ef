/**
 * The sysroot lock: one writer at a time (`ostree/lock`, removed on release as
 * libostree removes it). Whoever holds it leaves a note of who they are, so a
 * second writer can say whom it waits for.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { atomicWriteFile, fsp, path } from '../io/fs.js';
import { lockFile, type HeldLock } from '../io/host-fs.js';
import { requireSysroot } from './state.js';

export interface LockOptions {
  /** Wait for the lock (up to `timeoutMs`, default forever) rather than fail at once. */
  wait?: boolean;
  timeoutMs?: number;
  /** What this process is doing, for the note. */
  purpose?: string;
  /** The clock the note's time is read from (the host environment's). */
  now: () => number;
}

export async function lockSysroot(root: string, opts: LockOptions): Promise<HeldLock> {
  // Checked first: the lock file must not make a directory that is not a sysroot look like one.
  await requireSysroot(root);
  const file = path.join(root, 'ostree', 'lock');
  const info = path.join(root, 'ostree', 'lock.owner');
  const held = await lockFile(file, { wait: opts.wait === true, timeoutMs: opts.timeoutMs, removeOnRelease: true });
  if (!held) {
    const owner = await fsp.readFile(info, 'utf8').catch(() => '');
    const who = owner.trim() ? ` by ${owner.trim()}` : '';
    throw new OstreeTsError(Codes.LOCKED,
      `The sysroot ${root} is locked${who}: another update is in progress. Nothing was changed; try again once it has finished, or wait for the lock.`,
      { sysroot: root, owner: owner.trim() || null, hint: { option: 'lockWait' } });
  }
  const started = new Date(opts.now()).toISOString().replace(/\.\d+Z$/, 'Z');
  await atomicWriteFile(info, `${opts.purpose ?? 'a sysroot change'} (pid ${process.pid}, since ${started})\n`, { fsync: false }).catch(() => undefined);
  return {
    release: async () => {
      // The note goes first, while the lock still makes it ours.
      await fsp.rm(info, { force: true }).catch(() => undefined);
      await held.release();
    },
  };
}

/** Run `fn` holding the sysroot lock. */
export async function withSysrootLock<T>(root: string, opts: LockOptions, fn: () => Promise<T>): Promise<T> {
  const lock = await lockSysroot(root, opts);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
