/** File-system primitives: the only place that touches node:fs. */
import { createRequire } from 'node:module';
import * as fsp from 'node:fs/promises';
import {
  createReadStream, createWriteStream, readFile as readFileCb, writeFile as writeFileCb, rename as renameCb, open as openCb, read as readCb, close as closeCb, lstat as lstatCb,
  constants as fsConstants, type Dirent, type Stats,
} from 'node:fs';
import * as path from 'node:path';
import { Codes, OstreeTsError } from '../errors/index.js';

export { fsp, createReadStream, createWriteStream, path };
/**
 * Synchronous calls for batches of tiny operations (a hardlink farm): one
 * syscall each, without a thread-pool round trip and a promise per file.
 */
export {
  linkSync, mkdirSync, chmodSync, lchownSync, utimesSync, readFileSync, statSync, lstatSync, readdirSync, readlinkSync, symlinkSync, copyFileSync, rmSync,
  renameSync, unlinkSync, writeFileSync,
} from 'node:fs';
export type { Dirent, Stats };

/** For the Node modules loaded when first used (child_process, crypto), not at start-up. */
const requireHere = createRequire(import.meta.url);

export function randomSuffix(n = 6): string {
  // node:crypto is loaded here, on the first write, not at start-up.
  const { randomBytes } = requireHere('node:crypto') as typeof import('node:crypto');
  return randomBytes(n).toString('base64url').slice(0, n);
}

export function isErrno(e: unknown, ...codes: string[]): boolean {
  return typeof e === 'object' && e !== null && codes.includes((e as NodeJS.ErrnoException).code ?? '');
}

export async function exists(p: string): Promise<boolean> {
  try {
    await lstatQuick(p);
    return true;
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'ENOTDIR')) return false;
    throw e;
  }
}

export interface WriteOptions {
  fsync?: boolean;
  mode?: number;
  /**
   * Sync the file again under its new name, before the directory: on FAT
   * (the ESP) the rename's new entry carries the file's start and size only
   * once the file itself is synced again (see fsyncFile).
   */
  resyncAfterRename?: boolean;
}

/**
 * fsync a file by its path. On FAT (the ESP) a rename writes the new
 * directory entry without the file's start cluster and size: they are
 * written with the file's inode, so until the renamed file itself is synced
 * a power cut leaves an empty file under the new name (the old name gone),
 * which the firmware cannot boot. Syncing the directory alone is not enough.
 */
export async function fsyncFile(p: string): Promise<void> {
  const fh = await fsp.open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Replace `dest` atomically: write a temporary file in the same directory,
 * fsync it (unless told not to), rename it over `dest`, then fsync the directory.
 */
export async function atomicWriteFile(dest: string, data: Uint8Array | string, opts: WriteOptions = {}): Promise<void> {
  const dir = path.dirname(dest);
  const tmp = path.join(dir, `.${path.basename(dest)}.tmp-${randomSuffix()}`);
  const fh = await fsp.open(tmp, 'wx', opts.mode ?? 0o644);
  try {
    await fh.writeFile(data);
    if (opts.mode !== undefined) await fh.chmod(opts.mode);
    if (opts.fsync !== false) await fh.sync();
  } catch (e) {
    await fh.close();
    await fsp.rm(tmp, { force: true });
    throw withPath(e, tmp);
  }
  await fh.close();
  try {
    await fsp.rename(tmp, dest);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  if (opts.fsync !== false && opts.resyncAfterRename) await fsyncFile(dest);
  if (opts.fsync !== false) await fsyncDir(dir);
}

/**
 * Copy `src` to `dest` atomically, as atomicWriteFile writes: a temporary
 * beside `dest` (with `src`'s mode unless `mode` is given), synced, renamed
 * over it, the directory synced; the data never passes through memory.
 */
export async function atomicCopyFile(src: string, dest: string, opts: WriteOptions = {}): Promise<void> {
  const dir = path.dirname(dest);
  const tmp = path.join(dir, `.${path.basename(dest)}.tmp-${randomSuffix()}`);
  try {
    await fsp.copyFile(src, tmp, fsConstants.COPYFILE_EXCL);
    const fh = await fsp.open(tmp, 'r+');
    try {
      if (opts.mode !== undefined) await fh.chmod(opts.mode);
      if (opts.fsync !== false) await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, dest);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw withPath(e, tmp);
  }
  if (opts.fsync !== false && opts.resyncAfterRename) await fsyncFile(dest);
  if (opts.fsync !== false) await fsyncDir(dir);
}

/**
 * mkdir -p. Not `fs.mkdir(p, { recursive: true })`: when the filesystem has
 * no inode left, Node's recursive mkdir reports ENOENT (it stats the path
 * after the failure) instead of ENOSPC; here every mkdir(2) error is told as
 * it is. `mode` applies to each directory created.
 */
export async function mkdirp(p: string, mode = 0o777): Promise<void> {
  try {
    await fsp.mkdir(p, { mode });
  } catch (e) {
    if (isErrno(e, 'EEXIST')) {
      if ((await fsp.stat(p)).isDirectory()) return;
      throw e;
    }
    const parent = path.dirname(p);
    if (!isErrno(e, 'ENOENT') || parent === p) throw e;
    await mkdirp(parent, mode);
    try {
      await fsp.mkdir(p, { mode });
    } catch (e2) {
      if (!isErrno(e2, 'EEXIST')) throw e2;
    }
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * syncfs(2) on the file system holding `p`, via `sync -f`: the short option,
 * which coreutils (`--file-system`) and busybox (whose sync takes no long
 * options) both take, so a busybox host makes its writes durable too.
 */
export function syncFilesystem(p: string): Promise<void> {
  const { execFile } = requireHere('node:child_process') as typeof import('node:child_process');
  return new Promise((resolve, reject) => {
    execFile('sync', ['-f', p], (err, _stdout, stderr) => {
      if (!err) {
        resolve();
        return;
      }
      // What sync says ("sync: error syncing 'P': Input/output error"), or how it ended.
      const said = String(stderr).trim().split('\n').pop()?.replace(/^sync: /, '');
      const signal = (err as { signal?: string | null }).signal;
      const reason = said || (signal ? `sync was killed by ${signal}` : err.message);
      reject(new OstreeTsError(Codes.IO,
        `Could not make the file system holding ${p} durable (syncfs): ${reason}. The operation stopped there, as what it wrote `
        + 'may not survive a crash. Check the disk (and its free space), then run the command again.',
        { path: p, reason }, { cause: err }));
    });
  });
}

/**
 * At most `n` calls of `run` at once, across every caller; the rest wait
 * their turn (a finishing call hands its slot straight to the next). Only
 * leaf operations should take a slot, so that nesting cannot deadlock.
 */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly n: number, private readonly signal?: AbortSignal) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active < this.n) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // the slot is handed over, still counted
    try {
      this.signal?.throwIfAborted();
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else if (--this.active === 0) {
        const w = this.idleWaiters;
        this.idleWaiters = [];
        for (const f of w) f();
      }
    }
  }

  /** Resolves once nothing runs or waits. */
  idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}

/** Run `fn` over `items` with at most `limit` promises in flight; stops at the first error. */
export async function mapLimit<T, R>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  const it = items[Symbol.iterator]();
  let index = 0;
  let failed: unknown = null;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (failed) return;
      const n = it.next();
      if (n.done) return;
      const i = index++;
      try {
        out[i] = await fn(n.value);
      } catch (e) {
        failed ??= e;
        throw e;
      }
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < limit; i++) workers.push(worker());
  const results = await Promise.allSettled(workers);
  if (failed) throw failed;
  for (const r of results) if (r.status === 'rejected') throw r.reason;
  return out;
}

/** The kernel's boot ID (or $OSTREE_BOOTID), used to name staging directories as libostree does. */
export async function readBootId(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.OSTREE_BOOTID) return env.OSTREE_BOOTID.replace(/-/g, '');
  try {
    return (await fsp.readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim().replace(/-/g, '');
  } catch {
    return 'noboot';
  }
}

/**
 * Read up to `length` bytes of a file into `buf` (open, read, close); returns
 * the bytes read. Callbacks, not fs/promises: this runs once per file of a tree.
 */
export function readInto(p: string, buf: Buffer, length: number): Promise<number> {
  if (length === 0) return Promise.resolve(0);
  return new Promise((resolve, reject) => {
    openCb(p, 'r', (err, fd) => {
      if (err) return reject(err);
      let done = 0;
      const finish = (e: Error | null): void => closeCb(fd, (ce) => (e ?? ce ? reject(e ?? ce) : resolve(done)));
      const step = (): void => {
        readCb(fd, buf, done, length - done, done, (re, n) => {
          if (re) return finish(re);
          done += n;
          if (n === 0 || done >= length) return finish(null);
          step();
        });
      };
      step();
    });
  });
}

/** lstat(2) with the callback API (cheaper per call than fs/promises). */
export function lstatQuick(p: string): Promise<Stats> {
  return new Promise((resolve, reject) => lstatCb(p, (e, st) => (e ? reject(e) : resolve(st))));
}

/**
 * Read a whole (small) file. The callback API does the open-stat-read-close
 * chain with far less overhead than fs/promises, which matters per object.
 */
export function readSmallFile(p: string): Promise<Buffer> {
  return new Promise((resolve, reject) => readFileCb(p, (e, data) => (e ? reject(e) : resolve(data))));
}

/** `e` with `p` as its path when it names none: write(2) and fsync(2) errors (ENOSPC, EIO) carry no path of their own. */
export function withPath<E>(e: E, p: string): E {
  if (e instanceof Error && 'syscall' in e && !(e as NodeJS.ErrnoException).path) (e as NodeJS.ErrnoException).path = p;
  return e;
}

/** Create a new file holding `data` (fails if it exists); the callback API, for per-object use. */
export function writeNewFile(p: string, data: Uint8Array, mode: number): Promise<void> {
  return new Promise((resolve, reject) => writeFileCb(p, data, { mode, flag: 'wx' }, (e) => (e ? reject(withPath(e, p)) : resolve())));
}

/** rename(2) with the callback API. */
export function renameQuick(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => renameCb(from, to, (e) => (e ? reject(e) : resolve())));
}

/** A character device 0:0 (an overlayfs whiteout) at `p`, via coreutils `mknod`; needs CAP_MKNOD. */
export function makeWhiteoutDevice(p: string, mode: number): Promise<void> {
  const { execFile } = requireHere('node:child_process') as typeof import('node:child_process');
  return new Promise((resolve, reject) => {
    execFile('mknod', ['-m', (mode & 0o7777).toString(8), p, 'c', '0', '0'], (err, _out, stderr) => (err ? reject(new Error(stderr.trim() || err.message)) : resolve()));
  });
}
