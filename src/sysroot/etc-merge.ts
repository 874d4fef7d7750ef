/**
 * The /etc three-way merge, as libostree does it when deploying
 * (`merge_configuration_from` in ostree-sysroot-deploy.c):
 *
 * 1. `diffEtc` compares the merge deployment's defaults (`usr/etc`, "orig")
 *    with its live configuration (`etc`, "modified"), ignoring xattrs, and
 *    lists what the user removed, modified and added.
 * 2. `checkEtcMerge` is the dry run: it walks that plan over the new defaults
 *    and reports every conflict without touching anything.
 * 3. `applyEtcMerge` replays the plan onto the new deployment's `etc` (already
 *    a `copyTree` of its `usr/etc`): removals, then modifications, then
 *    additions; files the user did not touch keep the new defaults.
 *
 * Symlinks are never followed, in either tree. Where libostree would write
 * through one (the new defaults have a symlink where the user keeps a
 * directory with changes inside), this is reported as a conflict instead.
 * Sockets, FIFOs and device nodes are not carried over (libostree skips them
 * too).
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { chmodSync, copyFileSync, fsp, isErrno, lchownSync, Limiter, lstatQuick, lstatSync, mkdirSync, path, readdirSync, readlinkSync, readSmallFile, symlinkSync, utimesSync, type Stats } from '../io/fs.js';
import { readXattrsSync, writeXattrsSync } from '../io/xattr.js';

export interface EtcMergePlan {
  /** In both trees but different (content, mode, owner, symlink target or file type); parents before children. */
  modified: string[];
  /** In `usr/etc` but no longer in `etc` (a removed directory is listed once). */
  removed: string[];
  /** In `etc` only; an added directory is listed once, as the top directory. */
  added: string[];
}

export type EtcEntryType = 'dir' | 'file' | 'symlink';

export interface EtcNewDefaults {
  /** Type of the entry at this relative path in the NEW defaults: 'dir' | 'file' | 'symlink' | null (absent). */
  typeOf(rel: string): Promise<EtcEntryType | null>;
}

export interface EtcMergeOptions {
  /** Checked between file-system operations. */
  signal?: AbortSignal;
  /** Copies keep owners (uid, gid) only when the process may set them: say so (the host environment's `asRoot`). */
  asRoot?: boolean;
}

export interface EtcMergeConflict {
  path: string;
  reason: string;
}

/** File-system operations in flight at once: enough to hide latency, few enough to stay clear of EMFILE. */
const PARALLEL = 32;
/** Files up to this size are compared whole; bigger ones chunk by chunk. */
const WHOLE_COMPARE_MAX = 1 << 20;
const CHUNK = 256 * 1024;

type Kind = EtcEntryType | 'other';

function kindOf(st: Stats): Kind {
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFile()) return 'file';
  return 'other';
}

function describeKind(k: Kind): string {
  return k === 'dir' ? 'a directory' : k === 'symlink' ? 'a symlink' : k === 'file' ? 'a file' : 'a special file';
}

/** Like Promise.all, but waits for every promise to settle before reporting the first failure (nothing left running). */
async function settleAll<T>(promises: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Paths in tree order: component by component, so a directory comes right before its contents. */
function treeOrder(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const c = byteCompare(pa[i], pb[i]);
    if (c !== 0) return c;
  }
  return pa.length - pb.length;
}

function join(rel: string, name: string): string {
  return rel === '' ? name : `${rel}/${name}`;
}

function parentOf(rel: string): string | null {
  const i = rel.lastIndexOf('/');
  return i < 0 ? null : rel.slice(0, i);
}

function ioError(what: string, p: string, e: unknown): Error {
  if (e instanceof OstreeTsError || (e instanceof Error && e.name === 'AbortError')) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new OstreeTsError(Codes.IO, `Cannot ${what} ${p}: ${msg}. Check that the path exists and is readable and writable, then try again.`, { path: p }, { cause: e });
}

async function readNames(dir: string): Promise<string[]> {
  try {
    return (await fsp.readdir(dir)).sort(byteCompare);
  } catch (e) {
    throw ioError('list the directory', dir, e);
  }
}

async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await lstatQuick(p);
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'ENOTDIR')) return null;
    throw ioError('stat', p, e);
  }
}

// ---------------------------------------------------------------------------
// The diff

async function sameContent(a: string, b: string, size: number): Promise<boolean> {
  if (size <= WHOLE_COMPARE_MAX) {
    const [da, db] = await Promise.all([readSmallFile(a), readSmallFile(b)]);
    return da.equals(db);
  }
  const [fa, fb] = await Promise.all([fsp.open(a, 'r'), fsp.open(b, 'r')]);
  try {
    const ba = Buffer.alloc(CHUNK);
    const bb = Buffer.alloc(CHUNK);
    for (let pos = 0; ; pos += CHUNK) {
      const [ra, rb] = await Promise.all([fa.read(ba, 0, CHUNK, pos), fb.read(bb, 0, CHUNK, pos)]);
      if (ra.bytesRead !== rb.bytesRead) return false;
      if (ra.bytesRead === 0) return true;
      if (!ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false;
    }
  } finally {
    await Promise.all([fa.close(), fb.close()]);
  }
}

/**
 * Whether two entries of the same kind differ as libostree's diff sees them:
 * by their content checksum without xattrs (uid, gid, mode, symlink target,
 * content), or for directories their dirmeta (uid, gid, mode).
 */
async function differ(a: string, sa: Stats, b: string, sb: Stats, kind: Kind): Promise<boolean> {
  if (sa.uid !== sb.uid || sa.gid !== sb.gid || sa.mode !== sb.mode) return true;
  if (kind === 'dir') return false;
  if (sa.dev === sb.dev && sa.ino === sb.ino && Number.isSafeInteger(sa.ino)) return false;
  if (kind === 'symlink') {
    const [ta, tb] = await Promise.all([fsp.readlink(a, { encoding: 'buffer' }), fsp.readlink(b, { encoding: 'buffer' })]);
    return !ta.equals(tb);
  }
  if (kind === 'file') return sa.size !== sb.size || !(await sameContent(a, b, sa.size));
  return sa.rdev !== sb.rdev;
}

/**
 * The user's changes in a deployment: `origEtc` is its `usr/etc` (the
 * defaults it was deployed with), `modifiedEtc` its `etc`. Xattrs are ignored
 * (SELinux labels differ between the two by design), as in libostree.
 */
export async function diffEtc(origEtc: string, modifiedEtc: string, opts: EtcMergeOptions = {}): Promise<EtcMergePlan> {
  const plan: EtcMergePlan = { modified: [], removed: [], added: [] };
  // Bounded parallelism for a recursive walk: only leaf operations take a slot, so nesting cannot deadlock.
  const limiter = new Limiter(PARALLEL, opts.signal);
  const limit = <T>(fn: () => Promise<T>): Promise<T> => limiter.run(fn);

  const walk = async (rel: string): Promise<void> => {
    const [aNames, bNames] = await limit(() => Promise.all([readNames(path.join(origEtc, rel)), readNames(path.join(modifiedEtc, rel))]));
    const bSet = new Set(bNames);
    const aSet = new Set(aNames);
    for (const name of bNames) if (!aSet.has(name)) plan.added.push(join(rel, name));
    const subdirs: string[] = [];
    await settleAll(aNames.map((name) => limit(async () => {
      const r = join(rel, name);
      if (!bSet.has(name)) {
        plan.removed.push(r);
        return;
      }
      const a = path.join(origEtc, r);
      const b = path.join(modifiedEtc, r);
      let sa: Stats;
      let sb: Stats;
      try {
        [sa, sb] = await Promise.all([lstatQuick(a), lstatQuick(b)]);
      } catch (e) {
        throw ioError('stat', `${a} or ${b}`, e);
      }
      const ka = kindOf(sa);
      const kb = kindOf(sb);
      if (ka !== kb) {
        plan.modified.push(r);
        return;
      }
      try {
        if (await differ(a, sa, b, sb, ka)) plan.modified.push(r);
      } catch (e) {
        throw ioError('compare', `${a} with ${b}`, e);
      }
      if (ka === 'dir') subdirs.push(r);
    })));
    await settleAll(subdirs.map((d) => walk(d)));
  };

  for (const [what, dir] of [['defaults', origEtc], ['configuration', modifiedEtc]] as const) {
    const st = await lstatOrNull(dir);
    if (!st?.isDirectory()) {
      throw new OstreeTsError(Codes.NOT_FOUND, `Cannot compute the /etc changes: the ${what} directory ${dir} ${st ? 'is not a directory' : 'does not exist'}. Check the merge deployment's usr/etc and etc.`, { path: dir });
    }
  }
  await walk('');
  plan.modified.sort(treeOrder);
  plan.removed.sort(treeOrder);
  plan.added.sort(treeOrder);
  return plan;
}

// ---------------------------------------------------------------------------
// Copies

/**
 * Copy a tree exactly: modes, owners (when running as root), xattrs,
 * symlinks as symlinks, regular files as new files (never hard links), file
 * times. `dest` must not exist; its parent must. Used to create a new
 * deployment's `etc` from its `usr/etc`. On failure (or abort) `dest` may be
 * left partly copied: remove it before trying again.
 */
export async function copyTree(src: string, dest: string, opts: EtcMergeOptions = {}): Promise<void> {
  const st = await lstatOrNull(src);
  if (!st) throw new OstreeTsError(Codes.NOT_FOUND, `Cannot copy ${src}: it does not exist. Check the path.`, { path: src });
  if (await lstatOrNull(dest)) throw new OstreeTsError(Codes.EXISTS, `Cannot copy ${src} to ${dest}: ${dest} already exists. Remove it first.`, { path: dest });
  try {
    copyEntrySync(src, dest, st, opts.asRoot === true, opts.signal);
  } catch (e) {
    throw ioError(`copy ${src} to`, dest, e);
  }
}

/**
 * Copy `src` (any kind) to `dest`, which must not exist; directories recurse,
 * special files are skipped. Blocking calls: a deployment's /etc is hundreds
 * of small files, where a thread-pool round trip per call costs more than the call.
 */
function copyEntrySync(src: string, dest: string, st: Stats, root: boolean, signal?: AbortSignal): void {
  signal?.throwIfAborted();
  const kind = kindOf(st);
  if (kind === 'other') return;
  if (kind === 'dir') {
    mkdirSync(dest, 0o700);
    for (const name of readdirSync(src)) {
      const s = path.join(src, name);
      copyEntrySync(s, path.join(dest, name), lstatSync(s), root, signal);
    }
  } else if (kind === 'symlink') symlinkSync(readlinkSync(src, { encoding: 'buffer' }), dest);
  else copyFileSync(src, dest, fsp.constants.COPYFILE_EXCL);
  copyMetadataSync(src, dest, st, kind, root);
}

/** Owner, then xattrs, then the mode (a chown drops setuid bits and file capabilities); file times for files. */
function copyMetadataSync(src: string, dest: string, st: Stats, kind: Kind, root: boolean): void {
  const xattrs = readXattrsSync(src);
  if (root) lchownSync(dest, st.uid, st.gid);
  if (kind === 'symlink') {
    if (xattrs.length > 0) writeXattrsSync(dest, xattrs);
    return;
  }
  if (xattrs.length > 0) {
    // Writable even for a read-only mode when not root.
    if (!root) chmodSync(dest, 0o700);
    writeXattrsSync(dest, xattrs);
  }
  chmodSync(dest, st.mode & 0o7777);
  if (kind === 'file') utimesSync(dest, st.atime, st.mtime);
}

/** A filesystem-backed EtcNewDefaults: the directory `dir` on disk. A path below a symlink or a file is absent. */
export function dirDefaults(dir: string): EtcNewDefaults {
  return {
    async typeOf(rel: string): Promise<EtcEntryType | null> {
      const parts = checkRel(rel).split('/');
      let p = dir;
      for (let i = 0; i < parts.length; i++) {
        p = path.join(p, parts[i]);
        const st = await lstatOrNull(p);
        if (!st) return null;
        const kind = kindOf(st);
        if (i === parts.length - 1) return kind === 'other' ? 'file' : kind;
        if (kind !== 'dir') return null;
      }
      return null;
    },
  };
}

// ---------------------------------------------------------------------------
// Planning the merge (shared by the dry run and the real thing)

function checkRel(rel: string): string {
  if (typeof rel !== 'string' || rel === '' || rel.startsWith('/') || rel.split('/').some((c) => c === '' || c === '.' || c === '..') || rel.includes('\0')) {
    throw new OstreeTsError(Codes.USAGE, `Invalid path in the /etc merge plan: ${JSON.stringify(rel)}. Paths are relative to etc, without '.', '..' or empty components; compute the plan with diffEtc.`, { path: rel });
  }
  return rel;
}

type Action =
  | { op: 'remove'; path: string }
  /** Create a directory missing in the new etc, with the merge deployment's metadata. */
  | { op: 'mkdir'; path: string }
  /** Give an existing directory of the new etc the merge deployment's owner, mode and xattrs. */
  | { op: 'attrs'; path: string }
  /** Remove the non-directory (if any) at the path in the new etc, then copy the merge deployment's entry there (recursively). */
  | { op: 'replace'; path: string };

/**
 * What the new etc looks like as the plan is replayed: the new defaults,
 * overlaid by what each step did. An overlay entry covers its whole subtree
 * (the nearest one above a path decides): `absent` (removed), `M` (a copy of
 * the merge deployment's subtree), `emptydir` (created to hold something),
 * `file`/`symlink` (copied from the merge deployment).
 */
type Overlay = 'absent' | 'M' | 'emptydir' | 'file' | 'symlink';

class MergeSimulation {
  readonly actions: Action[] = [];
  readonly conflicts: EtcMergeConflict[] = [];
  private readonly overlay = new Map<string, Overlay>();
  private readonly attrsDone = new Set<string>();
  private readonly mKinds = new Map<string, Kind | null>();

  constructor(private readonly modifiedEtc: string, private readonly next: EtcNewDefaults) {}

  /** Kind of the entry in the merge deployment's etc (symlinks not followed anywhere along the path). */
  async mKind(rel: string): Promise<Kind | null> {
    const cached = this.mKinds.get(rel);
    if (cached !== undefined) return cached;
    const parent = parentOf(rel);
    let kind: Kind | null = null;
    if (parent === null || (await this.mKind(parent)) === 'dir') {
      const st = await lstatOrNull(path.join(this.modifiedEtc, rel));
      kind = st ? kindOf(st) : null;
    }
    this.mKinds.set(rel, kind);
    return kind;
  }

  /** Kind of the entry in the new etc at this point of the replay. */
  async newKind(rel: string): Promise<Kind | null> {
    for (let q: string | null = rel; q !== null; q = parentOf(q)) {
      const e = this.overlay.get(q);
      if (e === undefined) continue;
      if (e === 'M') {
        const k = await this.mKind(rel);
        return k === 'other' ? null : k; // special files are not copied
      }
      if (q !== rel) return null;
      return e === 'absent' ? null : e === 'emptydir' ? 'dir' : e;
    }
    return this.next.typeOf(rel);
  }

  /** Whether `rel` lies inside a subtree already copied whole from the merge deployment (copying it again changes nothing). */
  private insideCopy(rel: string): boolean {
    for (let q = parentOf(rel); q !== null; q = parentOf(q)) {
      const e = this.overlay.get(q);
      if (e !== undefined) return e === 'M';
    }
    return false;
  }

  private set(rel: string, e: Overlay): void {
    const prefix = `${rel}/`;
    for (const k of [...this.overlay.keys()]) if (k.startsWith(prefix)) this.overlay.delete(k);
    this.overlay.set(rel, e);
  }

  private conflict(p: string, reason: string): false {
    this.conflicts.push({ path: p, reason });
    return false;
  }

  async remove(rel: string): Promise<void> {
    checkRel(rel);
    if ((await this.newKind(rel)) === null) return; // nothing there (nor below a symlink: never followed)
    this.actions.push({ op: 'remove', path: rel });
    this.set(rel, 'absent');
  }

  /** ensure_directory_from_template: the directory exists in the new etc, with the merge deployment's metadata. */
  private async ensureDir(dir: string, forPath: string): Promise<boolean> {
    if ((await this.mKind(dir)) !== 'dir') {
      return this.conflict(forPath, `/etc/${dir} is no longer a directory in the current deployment (it changed after the plan was computed); compute the plan again`);
    }
    const k = await this.newKind(dir);
    if (k === 'dir') {
      if (!this.attrsDone.has(dir)) this.actions.push({ op: 'attrs', path: dir });
      this.attrsDone.add(dir);
      return true;
    }
    if (k !== null) {
      return this.conflict(forPath, `the new defaults have ${describeKind(k)} at /etc/${dir}, where your configuration has a directory holding /etc/${forPath}; move /etc/${dir} aside in the current deployment (or restore its default), then deploy again`);
    }
    const parent = parentOf(dir);
    if (parent !== null && !(await this.ensureDir(parent, forPath))) return false;
    this.actions.push({ op: 'mkdir', path: dir });
    this.attrsDone.add(dir);
    this.set(dir, 'emptydir');
    return true;
  }

  /**
   * copy_modified_config_file: the merge deployment's entry wins over the new
   * default, except that a directory in the new defaults is kept as it is.
   * Returns what happened, so additions can descend into kept directories.
   */
  async copy(rel: string, added: boolean): Promise<'copied' | 'kept-dir' | 'skipped'> {
    checkRel(rel);
    const mk = await this.mKind(rel);
    if (mk === null) {
      this.conflict(rel, `/etc/${rel} is gone from the current deployment (it changed after the plan was computed); compute the plan again`);
      return 'skipped';
    }
    if (mk === 'other') return 'skipped';
    if (this.insideCopy(rel)) return 'copied';
    const parent = parentOf(rel);
    if (parent !== null && !(await this.ensureDir(parent, rel))) return 'skipped';
    const nk = await this.newKind(rel);
    if (nk === 'dir') {
      if (mk === 'dir') return 'kept-dir';
      const fix = added
        ? `move /etc/${rel} out of the way in the current deployment`
        : `restore its default in the current deployment (cp -a /usr/etc/${rel} /etc/${rel}) or move it out of the way`;
      this.conflict(rel, `your configuration has ${describeKind(mk)} at /etc/${rel}, but the new defaults make it a directory; ${fix}, then deploy again`);
      return 'skipped';
    }
    this.actions.push({ op: 'replace', path: rel });
    this.set(rel, mk === 'dir' ? 'M' : mk);
    return 'copied';
  }

  /** An added entry; an added directory the new defaults also have is merged entry by entry, as libostree does. */
  async add(rel: string): Promise<void> {
    if ((await this.copy(rel, true)) !== 'kept-dir') return;
    for (const name of await readNames(path.join(this.modifiedEtc, rel))) await this.add(join(rel, name));
  }
}

async function simulate(plan: EtcMergePlan, modifiedEtc: string, next: EtcNewDefaults): Promise<MergeSimulation> {
  const sim = new MergeSimulation(modifiedEtc, next);
  for (const rel of plan.removed) await sim.remove(rel);
  for (const rel of plan.modified) await sim.copy(rel, false);
  for (const rel of plan.added) await sim.add(rel);
  return sim;
}

/**
 * Dry run: the conflicts that applying `plan` onto the new defaults would
 * meet (empty: the merge will go through). `modifiedEtc` is the merge
 * deployment's `etc`, as given to `diffEtc`.
 */
export async function checkEtcMerge(plan: EtcMergePlan, modifiedEtc: string, next: EtcNewDefaults): Promise<EtcMergeConflict[]> {
  return (await simulate(plan, modifiedEtc, next)).conflicts;
}

/**
 * Apply `plan` (from `diffEtc`) onto `newEtc`, a fresh copy of the new
 * deployment's `usr/etc`, then delete `newEtc/.updated` (the caller handles
 * the stateroot's `var/.updated`). Conflicts are found before anything
 * changes; the first is thrown as E_TREE_CONFLICT, with all of them in
 * `data.conflicts`.
 */
export async function applyEtcMerge(plan: EtcMergePlan, modifiedEtc: string, newEtc: string, opts: EtcMergeOptions = {}): Promise<void> {
  const sim = await simulate(plan, modifiedEtc, dirDefaults(newEtc));
  if (sim.conflicts.length > 0) {
    const [first] = sim.conflicts;
    const more = sim.conflicts.length > 1 ? ` (and ${sim.conflicts.length - 1} more conflict${sim.conflicts.length > 2 ? 's' : ''})` : '';
    throw new OstreeTsError(Codes.TREE_CONFLICT, `Cannot merge /etc: ${first.reason}${more}. Nothing was changed.`, { path: first.path, conflicts: sim.conflicts });
  }
  const root = opts.asRoot === true;
  for (const a of sim.actions) {
    opts.signal?.throwIfAborted();
    const from = path.join(modifiedEtc, a.path);
    const to = path.join(newEtc, a.path);
    try {
      switch (a.op) {
        case 'remove':
          await fsp.rm(to, { recursive: true, force: true });
          break;
        case 'mkdir':
          await fsp.mkdir(to, 0o700);
          copyMetadataSync(from, to, await lstatQuick(from), 'dir', root);
          break;
        case 'attrs':
          copyMetadataSync(from, to, await lstatQuick(from), 'dir', root);
          break;
        case 'replace':
          await fsp.rm(to, { force: true });
          copyEntrySync(from, to, await lstatQuick(from), root, opts.signal);
          break;
      }
    } catch (e) {
      throw ioError(`merge /etc/${a.path} (${a.op}) into`, to, e);
    }
  }
  try {
    await fsp.rm(path.join(newEtc, '.updated'), { force: true });
  } catch (e) {
    throw ioError('remove', path.join(newEtc, '.updated'), e);
  }
}

/** The paths `rels` (under `root`) name, each directory among them followed by everything inside it (names sorted): what ostree lists as added. */
export async function expandPaths(root: string, rels: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    out.push(rel);
    const st = await fsp.lstat(path.join(root, rel)).catch(() => null);
    if (!st?.isDirectory()) return;
    for (const name of (await fsp.readdir(path.join(root, rel))).sort()) await walk(`${rel}/${name}`);
  };
  for (const r of rels) await walk(r);
  return out;
}
