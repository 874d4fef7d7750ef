/**
 * Open-file-description locks (fcntl F_OFD_SETLK / F_OFD_SETLKW /
 * F_OFD_GETLK), the locks libostree takes on a repository's `.lock` and a
 * sysroot's `ostree/lock`. Node has no fcntl, so a small addon
 * (native/ofd-lock, built when the package is installed) makes the calls.
 *
 * An OFD lock belongs to the open file, not to the process: two LockFiles in
 * one process exclude each other, a lock goes when its file is closed
 * (however the process ends), and a child process never inherits it (Node
 * opens files close-on-exec). Locks cover the whole file.
 */
import { constants as osConstants } from 'node:os';
import { createRequire } from 'node:module';
import type { FileHandle } from 'node:fs/promises';
import { Codes, OstreeTsError } from '../errors/index.js';
import { fsp, mapLimit, path } from './fs.js';
import { packageRoot } from './package-root.js';

export type LockMode = 'shared' | 'exclusive';

interface Binding {
  tryLock(fd: number, type: 0 | 1 | 2): boolean;
  waitLock(fd: number, type: 0 | 1 | 2): Promise<void>;
  getLock(fd: number, type: 1 | 2): { type: 1 | 2; start: number; len: number; pid: number } | null;
}

/** Where the install script leaves the addon, in the package's directory. */
const ADDON = 'native/ofd-lock/build/Release/ofd_lock.node';

/** The addon, loaded on first use (a handle that never locks never loads it). */
class Native {
  private binding: Binding | null = null;

  get(): Binding {
    if (this.binding) return this.binding;
    const require = createRequire(import.meta.url);
    const file = path.join(packageRoot(), ADDON);
    try {
      this.binding = require(file) as Binding;
    } catch (e) {
      throw new OstreeTsError(Codes.NATIVE_MISSING,
        `The OFD lock addon (${file}) could not be loaded: ${(e as Error).message.split('\n')[0]}. `
        + 'It is built when ostree-ts is installed; build it with \'node native/ofd-lock/build.mjs\' in the ostree-ts directory (it needs a C compiler), or reinstall ostree-ts.',
        { path: file }, { cause: e });
    }
    return this.binding;
  }
}
const native = new Native();

const TYPE: Record<LockMode, 1 | 2> = { shared: 1, exclusive: 2 };

/** An errno failure from the addon as Node reports its own (code, errno, syscall, path). */
function errnoError(e: unknown, file: string): unknown {
  const n = (e as { errno?: number }).errno;
  if (typeof n !== 'number') return e;
  const code = Object.entries(osConstants.errno).find(([, v]) => v === n)?.[0] ?? `errno ${n}`;
  return Object.assign(new Error(`${code}: ${(e as Error).message}, fcntl '${file}'`), { code, errno: -n, syscall: 'fcntl', path: file });
}

export interface LockWaitOptions {
  /** Give up after this long (resolves false); null: wait for as long as it takes. */
  timeoutMs: number | null;
  /** Called once, when the lock is found held and waiting begins. */
  onWait?: () => void;
  signal?: AbortSignal;
}

/** A lock file, open read-write, whose OFD lock this process takes and drops. */
export class LockFile {
  readonly path: string;
  private handle: FileHandle | null;
  /** True while a blocking wait is in a thread: the descriptor must stay open till it ends. */
  private waiting = false;

  private constructor(file: string, handle: FileHandle) {
    this.path = file;
    this.handle = handle;
  }

  /** Open (creating it with `mode`, 0600 by default) the lock file; its directory must exist. */
  static async open(file: string, opts: { mode?: number } = {}): Promise<LockFile> {
    const handle = await fsp.open(file, fsp.constants.O_RDWR | fsp.constants.O_CREAT, opts.mode ?? 0o600);
    return new LockFile(file, handle);
  }

  /** The descriptor (-1 once closed). */
  get descriptor(): number {
    return this.handle?.fd ?? -1;
  }

  private fd(): number {
    if (!this.handle) throw new OstreeTsError(Codes.IO, `The lock file ${this.path} is already closed.`, { path: this.path });
    return this.handle.fd;
  }

  /** Take `mode` (or change the lock held to it) without waiting: false when another open file's lock is in the way. */
  tryLock(mode: LockMode): boolean {
    const fd = this.fd();
    try {
      return native.get().tryLock(fd, TYPE[mode]);
    } catch (e) {
      throw errnoError(e, this.path);
    }
  }

  /**
   * Take `mode`, waiting while it is held elsewhere: for ever (F_OFD_SETLKW on
   * a thread of the addon's, so the event loop runs on), or up to `timeoutMs`
   * by trying again at short intervals. Resolves false on timeout.
   */
  async lock(mode: LockMode, opts: LockWaitOptions): Promise<boolean> {
    if (this.tryLock(mode)) return true;
    opts.onWait?.();
    if (opts.timeoutMs === null && !opts.signal) {
      const fd = this.fd();
      this.waiting = true;
      try {
        await native.get().waitLock(fd, TYPE[mode]);
      } catch (e) {
        throw errnoError(e, this.path);
      } finally {
        this.waiting = false;
      }
      return true;
    }
    const start = performance.now();
    let pause = 5;
    for (;;) {
      opts.signal?.throwIfAborted();
      const left = opts.timeoutMs === null ? Infinity : opts.timeoutMs - (performance.now() - start);
      if (left <= 0) return false;
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
      pause = Math.min(pause * 2, 100);
      if (this.tryLock(mode)) return true;
    }
  }

  /** Drop the lock (the file stays open). */
  unlock(): void {
    const fd = this.fd();
    try {
      native.get().tryLock(fd, 0);
    } catch (e) {
      throw errnoError(e, this.path);
    }
  }

  /**
   * The lock another open file holds that is in the way of `mode`
   * (F_OFD_GETLK), or null when `mode` could be taken now. Null too where the
   * file system has no OFD locks.
   */
  conflict(mode: LockMode): LockMode | null {
    const fd = this.fd();
    try {
      const r = native.get().getLock(fd, TYPE[mode]);
      return r === null ? null : r.type === 2 ? 'exclusive' : 'shared';
    } catch (e) {
      if ((e as { errno?: number }).errno === osConstants.errno.EINVAL) return null;
      throw errnoError(e, this.path);
    }
  }

  /** Is the path still this file (not removed or replaced since it was opened)? */
  async isCurrent(): Promise<boolean> {
    if (!this.handle) return false;
    const [a, b] = await Promise.all([this.handle.stat(), fsp.stat(this.path).catch(() => null)]);
    return b !== null && a.dev === b.dev && a.ino === b.ino;
  }

  /** Close the file, which drops its lock. */
  async close(): Promise<void> {
    const h = this.handle;
    if (!h || this.waiting) return;
    this.handle = null;
    await h.close();
  }
}

/**
 * Take an exclusive lock on `file` (created 0600, its directory must exist)
 * the way libostree locks a sysroot: should the file be removed or replaced
 * while we waited, lock the new one. Resolves null when not taken in time.
 */
export async function lockExclusive(file: string, opts: LockWaitOptions): Promise<LockFile | null> {
  for (;;) {
    const lf = await LockFile.open(file);
    let ok = false;
    try {
      ok = await lf.lock('exclusive', opts);
      if (ok && (await lf.isCurrent())) return lf;
    } catch (e) {
      await lf.close();
      throw e;
    }
    await lf.close();
    if (!ok) return null;
  }
}

export interface LockHolder {
  pid: number;
  mode: LockMode;
  /** Its command line, shortened (empty when it cannot be read). */
  command: string;
}

const PROC = '/proc';

/** `lock:\t1: OFDLCK ADVISORY  READ -1 fe:00:2148165 0 EOF` in /proc/PID/fdinfo/FD (a line with `->` is a waiter). */
const FDINFO_LOCK = /^lock:\s+\d+:\s+(?:OFDLCK|FLOCK|POSIX)\s+\S+\s+(READ|WRITE)\s+-?\d+\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s/;

/**
 * The processes holding a lock on `file`, found through /proc/PID/fdinfo
 * (F_OFD_GETLK gives no pid for OFD locks). `except` is a descriptor of
 * this process not to count (the caller's own). Processes of other users
 * are unseen unless we are root: best effort, never throws.
 */
export async function lockHolders(file: string, except?: LockFile): Promise<LockHolder[]> {
  const out: LockHolder[] = [];
  try {
    const target = await fsp.realpath(file);
    const { ino } = await fsp.stat(target);
    const own = except?.descriptor ?? -1;
    const pids = (await fsp.readdir(PROC)).filter((n) => /^\d+$/.test(n));
    await mapLimit(pids, 32, async (pid) => {
      const fds = await fsp.readdir(path.join(PROC, pid, 'fd')).catch(() => [] as string[]);
      for (const fd of fds) {
        if (Number(pid) === process.pid && Number(fd) === own) continue;
        if ((await fsp.readlink(path.join(PROC, pid, 'fd', fd)).catch(() => '')) !== target) continue;
        const info = await fsp.readFile(path.join(PROC, pid, 'fdinfo', fd), 'utf8').catch(() => '');
        for (const line of info.split('\n')) {
          const m = FDINFO_LOCK.exec(line);
          if (!m || Number(m[2]) !== ino) continue;
          const cmd = (await fsp.readFile(path.join(PROC, pid, 'cmdline')).catch(() => Buffer.alloc(0))).toString('utf8').split('\0').filter(Boolean).join(' ');
          out.push({ pid: Number(pid), mode: m[1] === 'WRITE' ? 'exclusive' : 'shared', command: cmd.length > 120 ? `${cmd.slice(0, 117)}...` : cmd });
        }
      }
    });
  } catch {
    // what was found so far is all that can be said
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/** Holders as a phrase for a message: "pid 12 (ostree commit ...), pid 13 (...)", or "" when none is known. */
export function describeHolders(holders: LockHolder[]): string {
  return holders.map((h) => `pid ${h.pid}${h.command ? ` (${h.command})` : ''}`).join(', ');
}
