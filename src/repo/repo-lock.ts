/**
 * libostree's repository lock, so that an object is never deleted while a
 * writer relies on it: an OFD lock on the whole of `REPO/.lock`, taken shared
 * by writers (a transaction, a pull, summary -u) and exclusive by what
 * deletes objects (prune, fsck --delete). ostree and ostree-ts take the same
 * lock, so each waits for the other.
 *
 * The lock is the handle's and recursive: each push is matched by a pop of
 * the same mode, and the handle holds the strongest mode pushed until those
 * pops bring it back (exclusive over shared; the file is unlocked and closed
 * when nothing is held). Going from unlocked, or from shared to exclusive,
 * waits for other holders as `core.lock-timeout-secs` says: default 30
 * seconds, -1 for as long as it takes, 0 not at all; `core.locking=false`
 * turns locking off, and a repository we cannot write is never locked.
 */
import { Codes, InternalError, OstreeTsError } from '../errors/index.js';
import type { KeyFile } from '../format/keyfile.js';
import { fsp, isErrno, path } from '../io/fs.js';
import type { LockFile, LockMode } from '../io/ofd-lock.js';

/** The lock file code (and its addon) loads with the first lock taken, not with every repository handle. */
const ofdLock = (): Promise<typeof import('../io/ofd-lock.js')> => import('../io/ofd-lock.js');

export type RepoLockMode = LockMode;

/** The lock's settings, from the repository's config as libostree reads them. */
export interface RepoLockSettings {
  enabled: boolean;
  /** Seconds to wait for the lock; -1: as long as it takes. */
  timeoutSecs: number;
}

export function repoLockSettings(config: KeyFile, configPath: string): RepoLockSettings {
  if (!config.getBool('core', 'locking', true)) return { enabled: false, timeoutSecs: 0 };
  const raw = config.get('core', 'lock-timeout-secs');
  // Read as libostree does (a leading integer; anything else counts as 0).
  const m = raw === undefined ? null : /^\s*([+-]?\d+)/.exec(raw);
  const timeoutSecs = raw === undefined ? 30 : m ? Number(m[1]) : 0;
  if (timeoutSecs < -1) {
    throw new OstreeTsError(Codes.REPO_CONFIG, `core.lock-timeout-secs is ${raw} in ${configPath}: give the seconds to wait for the repository lock, or -1 to wait as long as it takes.`, { path: configPath, value: raw });
  }
  return { enabled: true, timeoutSecs };
}

export class RepoLock {
  readonly repoPath: string;
  private readonly config: () => KeyFile;
  private file: LockFile | null = null;
  private shared = 0;
  private exclusive = 0;
  /** Whether we may write the repository (null until the first lock): one we cannot write is not locked. */
  private canWrite: boolean | null = null;
  /** State changes one at a time, in the order asked. */
  private turn: Promise<void> = Promise.resolve();

  constructor(repoPath: string, config: () => KeyFile) {
    this.repoPath = repoPath;
    this.config = config;
  }

  /** What this handle holds. */
  get state(): 'unlocked' | RepoLockMode {
    return this.exclusive > 0 ? 'exclusive' : this.shared > 0 ? 'shared' : 'unlocked';
  }

  /** The lock file. */
  get lockPath(): string {
    return path.join(this.repoPath, '.lock');
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.turn.then(fn);
    this.turn = run.then(() => undefined, () => undefined);
    return run;
  }

  /**
   * Hold the lock in `mode` (once more). `what` names the operation for the
   * error when it cannot be had in time (E_LOCKED).
   */
  push(mode: RepoLockMode, what: string): Promise<void> {
    return this.serially(async () => {
      const settings = repoLockSettings(this.config(), path.join(this.repoPath, 'config'));
      const before = this.state;
      if (before !== 'exclusive' && before !== mode) await this.acquire(mode, before, what, settings);
      if (mode === 'exclusive') this.exclusive++;
      else this.shared++;
    });
  }

  /** Give back one `mode` pushed earlier. */
  pop(mode: RepoLockMode): Promise<void> {
    return this.serially(async () => {
      if (mode === 'exclusive' ? this.exclusive === 0 : this.shared === 0) {
        throw new InternalError(`the ${mode} lock on ${this.repoPath} was released more often than taken`, { repo: this.repoPath });
      }
      if (mode === 'exclusive') this.exclusive--;
      else this.shared--;
      const after = this.state;
      if (!this.file) return;
      if (after === 'unlocked') {
        const f = this.file;
        this.file = null;
        try {
          f.unlock();
        } finally {
          await f.close();
        }
      } else if (mode === 'exclusive' && after === 'shared') {
        // Back to shared: a lock never waits to be weakened.
        if (!this.file.tryLock('shared')) throw new InternalError(`the lock on ${this.lockPath} could not be turned back to shared`, { path: this.lockPath });
      }
    });
  }

  private async acquire(mode: RepoLockMode, before: 'unlocked' | RepoLockMode, what: string, settings: RepoLockSettings): Promise<void> {
    if (!settings.enabled) return;
    this.canWrite ??= await this.writable();
    if (!this.canWrite) return;
    if (!this.file) {
      try {
        this.file = await (await ofdLock()).LockFile.open(this.lockPath, { mode: 0o660 });
      } catch (e) {
        throw new OstreeTsError(Codes.IO, `Could not open the repository lock ${this.lockPath}: ${(e as Error).message}.`, { path: this.lockPath }, { cause: e });
      }
    }
    const file = this.file;
    const timeoutMs = settings.timeoutSecs < 0 ? null : settings.timeoutSecs * 1000;
    let ok: boolean;
    try {
      ok = await file.lock(mode, { timeoutMs });
    } catch (e) {
      if (before === 'unlocked') await this.closeUnheld();
      if (e instanceof OstreeTsError) throw e;
      throw new OstreeTsError(Codes.IO, `Could not lock the repository ${this.repoPath} (${mode}): ${(e as Error).message}.`, { path: this.lockPath }, { cause: e });
    }
    if (ok) return;
    const held = file.conflict(mode) ?? (mode === 'exclusive' ? null : 'exclusive');
    const { describeHolders, lockHolders } = await ofdLock();
    const holders = describeHolders(await lockHolders(this.lockPath, file));
    if (before === 'unlocked') await this.closeUnheld();
    const by = `${held ? ` ${held}` : ''} by ${holders ? holders : 'another process'}`;
    throw new OstreeTsError(Codes.LOCKED,
      `The repository ${this.repoPath} is locked${by}; ${what} needs it ${mode}, and ${settings.timeoutSecs === 0 ? 'was not to wait for it (core.lock-timeout-secs is 0)' : `waited ${settings.timeoutSecs} s for it (core.lock-timeout-secs)`}. `
      + `${before === 'unlocked' ? 'Nothing was changed. ' : ''}Let the other operation finish, then try again, or set core.lock-timeout-secs in ${this.repoPath}/config to wait longer (-1: as long as it takes).`,
      { repo: this.repoPath, path: this.lockPath, mode, heldAs: held, holders: holders || null, timeoutSecs: settings.timeoutSecs });
  }

  private async closeUnheld(): Promise<void> {
    const f = this.file;
    this.file = null;
    await f?.close();
  }

  /** libostree locks only a repository whose objects directory we may write. */
  private async writable(): Promise<boolean> {
    try {
      await fsp.access(path.join(this.repoPath, 'objects'), fsp.constants.W_OK);
      return true;
    } catch (e) {
      if (isErrno(e, 'EACCES', 'EROFS', 'EPERM', 'ENOENT')) return false;
      throw e;
    }
  }
}
