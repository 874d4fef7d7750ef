/**
 * The tree a compose builds, as the conventions, removals, files and checks
 * see it: entries listed, read, removed, moved and written by relative path.
 *
 * Two kinds. A `DirTree` is one directory on disk, changed in place. A
 * `LayeredTree` never touches its lower directory (the cached mmdebstrap
 * output): what is written or moved goes into an upper directory, what is
 * removed from the lower one is only remembered, and the commit reads the
 * lower directory with those paths skipped, then the upper one over it
 * (directories merge, later entries replace). Laying the cached tree out
 * first, by thousands of hard links and directories, is what that saves.
 */
import type { EntryType, TreeReader } from '../format/kernel-layout.js';
import type { TreeSource } from '../repo/commit.js';
import {
  chmodSync, copyFileSync, createReadStream, fsp, isErrno, lchownSync, linkSync, lstatSync, mkdirSync, path, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync,
  type Dirent, type Stats,
} from '../io/fs.js';
import { readXattrsSync, writeXattrsSync } from '../io/xattr.js';
import { byName } from './stage.js';

/** What a directory entry is; `special` is a device node, socket or FIFO. */
export type Kind = 'dir' | 'file' | 'symlink' | 'special';

export interface Entry {
  name: string;
  kind: Kind;
}

export interface StagedTree {
  /** The entries of directory `rel` in byte order, or null when it is not a directory. */
  list(rel: string): Entry[] | null;
  lstat(rel: string): Stats | null;
  readlink(rel: string): string;
  /** Remove whatever is at `rel` (a whole directory too); nothing there is fine. */
  remove(rel: string): void;
  /** Move `from` to `to`, whose parent must be a directory and where nothing is. */
  move(from: string, to: string): void;
  /** Make `rel` and its parents directories (0755 when made). */
  ensureDir(rel: string): void;
  /** Replace whatever is at `rel` with a file (its parent must be a directory). */
  writeFile(rel: string, data: string | Uint8Array, mode: number): void;
  chown(rel: string, uid: number, gid: number): void;
  /** The tree read for the kernel search. */
  reader(): TreeReader;
  /** What the commit reads, in order, and the paths it skips (skip-list lines). */
  commitSources(): { trees: TreeSource[]; skipList: string | undefined };
}

function kindOf(e: Dirent | Stats): Kind {
  return e.isDirectory() ? 'dir' : e.isSymbolicLink() ? 'symlink' : e.isFile() ? 'file' : 'special';
}

function lstatOrNull(p: string): Stats | null {
  try {
    // Most paths asked about in the upper directory are not there: no exception made for those.
    return lstatSync(p, { throwIfNoEntry: false }) ?? null;
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'ENOTDIR')) return null;
    throw e;
  }
}

function listDir(p: string): Entry[] | null {
  try {
    return readdirSync(p, { withFileTypes: true }).map((e) => ({ name: e.name, kind: kindOf(e) }));
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'ENOTDIR')) return null;
    throw e;
  }
}

/** A directory made with the mode, owner and extended attributes of `like`. */
function mkdirLike(dest: string, like: Stats, likePath: string): void {
  mkdirSync(dest);
  lchownSync(dest, like.uid, like.gid);
  chmodSync(dest, like.mode & 0o7777);
  const xattrs = readXattrsSync(likePath);
  if (xattrs.length) writeXattrsSync(dest, xattrs);
}

/**
 * `dest` as a hard link to the lower entry `src`, or, when the two are on
 * different filesystems, a copy with what a commit keeps of it (content or
 * target, mode, owner, extended attributes).
 */
function linkOrCopy(src: string, dest: string): void {
  try {
    linkSync(src, dest);
    return;
  } catch (e) {
    if (!isErrno(e, 'EXDEV')) throw e;
  }
  const st = lstatSync(src);
  if (st.isSymbolicLink()) symlinkSync(readlinkSync(src), dest);
  else copyFileSync(src, dest);
  lchownSync(dest, st.uid, st.gid);
  if (!st.isSymbolicLink()) chmodSync(dest, st.mode & 0o7777);
  const xattrs = readXattrsSync(src);
  if (xattrs.length) writeXattrsSync(dest, xattrs);
}

function mkdir0755(p: string): void {
  mkdirSync(p, { mode: 0o755 });
  chmodSync(p, 0o755);
}

/** The directory a relative path is in ('' for the root). */
export const parentOf = (rel: string): string => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');
const join = (rel: string, name: string): string => (rel ? `${rel}/${name}` : name);

function readerOf(tree: StagedTree, abs: (rel: string) => string): TreeReader {
  const type = (k: Kind): EntryType => (k === 'dir' ? 'dir' : k === 'symlink' ? 'symlink' : 'file');
  return {
    list: async (rel) => tree.list(rel)?.map((e) => ({ name: e.name, type: type(e.kind) })) ?? null,
    type: async (rel) => {
      const st = tree.lstat(rel);
      return st ? type(kindOf(st)) : null;
    },
    size: async (rel) => (await fsp.stat(abs(rel))).size,
    open: (rel) => createReadStream(abs(rel)),
  };
}

/** One directory, changed in place. */
export class DirTree implements StagedTree {
  constructor(readonly root: string) {}

  private abs(rel: string): string {
    return path.join(this.root, rel);
  }

  list(rel: string): Entry[] | null {
    return listDir(this.abs(rel))?.sort((a, b) => byName(a.name, b.name)) ?? null;
  }

  lstat(rel: string): Stats | null {
    return lstatOrNull(this.abs(rel));
  }

  readlink(rel: string): string {
    return readlinkSync(this.abs(rel));
  }

  remove(rel: string): void {
    rmSync(this.abs(rel), { recursive: true, force: true });
  }

  move(from: string, to: string): void {
    renameSync(this.abs(from), this.abs(to));
  }

  ensureDir(rel: string): void {
    if (rel === '' || this.lstat(rel)) return;
    this.ensureDir(parentOf(rel));
    mkdir0755(this.abs(rel));
  }

  writeFile(rel: string, data: string | Uint8Array, mode: number): void {
    this.remove(rel);
    writeFileSync(this.abs(rel), data, { mode });
    chmodSync(this.abs(rel), mode);
  }

  chown(rel: string, uid: number, gid: number): void {
    lchownSync(this.abs(rel), uid, gid);
  }

  reader(): TreeReader {
    return readerOf(this, (rel) => this.abs(rel));
  }

  commitSources(): { trees: TreeSource[]; skipList: string | undefined } {
    return { trees: [{ kind: 'dir', path: this.root }], skipList: undefined };
  }
}

/**
 * A read-only lower directory under an upper one. Invariants: an upper
 * entry that is not a directory hides the lower entry of its path (which is
 * then in `hidden`), and so does a lower entry that is not a directory under
 * an upper directory; an upper directory over a lower one merges with it and
 * was made with its mode, owner and extended attributes. `hidden` holds
 * lower paths only, none inside another.
 */
export class LayeredTree implements StagedTree {
  private readonly hidden = new Set<string>();

  /** `upper` must be an empty directory; it takes the lower root's mode, owner and extended attributes. */
  constructor(readonly lower: string, readonly upper: string) {
    const st = lstatSync(lower);
    lchownSync(upper, st.uid, st.gid);
    chmodSync(upper, st.mode & 0o7777);
    const xattrs = readXattrsSync(lower);
    if (xattrs.length) writeXattrsSync(upper, xattrs);
  }

  private isHidden(rel: string): boolean {
    for (let r = rel; r !== ''; r = parentOf(r)) if (this.hidden.has(r)) return true;
    return false;
  }

  private lowerStat(rel: string): Stats | null {
    return this.isHidden(rel) ? null : lstatOrNull(path.join(this.lower, rel));
  }

  private upperStat(rel: string): Stats | null {
    return lstatOrNull(path.join(this.upper, rel));
  }

  /** Hide the lower entry at `rel`, if there is one to hide. */
  private hide(rel: string): void {
    if (!this.lowerStat(rel)) return;
    const inside = `${rel}/`;
    for (const h of this.hidden) if (h.startsWith(inside)) this.hidden.delete(h);
    this.hidden.add(rel);
  }

  list(rel: string): Entry[] | null {
    const up = this.upperStat(rel);
    if (up && !up.isDirectory()) return null;
    // The lower listing says itself whether there is a directory (one call, not a stat and a listing).
    const low = this.isHidden(rel) ? null : listDir(path.join(this.lower, rel));
    if (!up && !low) return null;
    const byNameMap = new Map<string, Entry>();
    for (const e of low ?? []) if (!this.hidden.has(join(rel, e.name))) byNameMap.set(e.name, e);
    if (up) for (const e of listDir(path.join(this.upper, rel)) ?? []) byNameMap.set(e.name, e);
    return [...byNameMap.values()].sort((a, b) => byName(a.name, b.name));
  }

  lstat(rel: string): Stats | null {
    return this.upperStat(rel) ?? this.lowerStat(rel);
  }

  /** Where `rel` is on disk: the upper entry, else the lower one. */
  private where(rel: string): string {
    return this.upperStat(rel) ? path.join(this.upper, rel) : path.join(this.lower, rel);
  }

  readlink(rel: string): string {
    return readlinkSync(this.where(rel));
  }

  remove(rel: string): void {
    rmSync(path.join(this.upper, rel), { recursive: true, force: true });
    this.hide(rel);
  }

  /** Make `rel` an upper directory (over the lower one, when there is one: made like it). */
  private upperDir(rel: string): void {
    if (rel === '' || this.upperStat(rel)?.isDirectory()) return;
    this.upperDir(parentOf(rel));
    const low = this.lowerStat(rel);
    if (low && !low.isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${rel}'`), { code: 'ENOTDIR' });
    if (low) mkdirLike(path.join(this.upper, rel), low, path.join(this.lower, rel));
    else mkdir0755(path.join(this.upper, rel));
  }

  /** Link the visible lower content of directory `from` into the upper directory `to`, where the upper has nothing of that name. */
  private linkLower(from: string, to: string): void {
    for (const e of listDir(path.join(this.lower, from)) ?? []) {
      const f = join(from, e.name);
      if (this.hidden.has(f)) continue;
      const t = path.join(this.upper, to, e.name);
      const there = lstatOrNull(t);
      if (e.kind === 'dir') {
        if (there && !there.isDirectory()) continue;
        if (!there) mkdirLike(t, lstatSync(path.join(this.lower, f)), path.join(this.lower, f));
        this.linkLower(f, join(to, e.name));
      } else if (!there) linkOrCopy(path.join(this.lower, f), t);
    }
  }

  move(from: string, to: string): void {
    const up = this.upperStat(from);
    const low = this.lowerStat(from);
    if (!up && !low) throw Object.assign(new Error(`ENOENT: no such file or directory, rename '${from}' -> '${to}'`), { code: 'ENOENT' });
    this.upperDir(parentOf(to));
    if (this.lowerStat(to)) this.hide(to);
    if (up) renameSync(path.join(this.upper, from), path.join(this.upper, to));
    if (low?.isDirectory()) {
      if (!up) mkdirLike(path.join(this.upper, to), low, path.join(this.lower, from));
      if (!up || up.isDirectory()) this.linkLower(from, to);
    } else if (low && !up) linkOrCopy(path.join(this.lower, from), path.join(this.upper, to));
    this.hide(from);
  }

  ensureDir(rel: string): void {
    if (rel === '') return;
    const st = this.lstat(rel);
    if (st) {
      if (st.isDirectory()) return;
      throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${rel}'`), { code: 'ENOTDIR' });
    }
    this.ensureDir(parentOf(rel));
    this.upperDir(rel);
  }

  writeFile(rel: string, data: string | Uint8Array, mode: number): void {
    this.upperDir(parentOf(rel));
    this.remove(rel);
    const p = path.join(this.upper, rel);
    writeFileSync(p, data, { mode });
    chmodSync(p, mode);
  }

  chown(rel: string, uid: number, gid: number): void {
    lchownSync(path.join(this.upper, rel), uid, gid);
  }

  reader(): TreeReader {
    return readerOf(this, (rel) => this.where(rel));
  }

  commitSources(): { trees: TreeSource[]; skipList: string | undefined } {
    const skip = [...this.hidden].sort(byName).map((h) => `/${h}`);
    return {
      trees: [{ kind: 'dir', path: this.lower }, { kind: 'dir', path: this.upper }],
      skipList: skip.length ? `${skip.join('\n')}\n` : undefined,
    };
  }
}
