/**
 * Checkout: a commit's tree onto disk. Bare repositories hardlink their
 * objects when the object's on-disk metadata is what the checkout needs;
 * otherwise content is copied (archive objects are inflated).
 */
import { pipeline } from 'node:stream/promises';
import { Codes, OstreeTsError } from '../errors/index.js';
import { S_IFLNK, S_IFMT, type DirMeta, type DirTree, type FileHeader } from '../format/objects.js';
import { chmodSync, createWriteStream, fsp, isErrno, lchownSync, linkSync, makeWhiteoutDevice, mkdirSync, path, syncFilesystem, utimesSync, withPath, writeNewFile } from '../io/fs.js';
import { mapNoSpace } from '../io/space.js';
import { writeXattr } from '../io/xattr.js';
import { walkTree } from './tree-walk.js';
import type { Repo, StoredFile } from './repo.js';
import { resolveRev } from './refs.js';

export interface CheckoutOptions {
  /** Ignore ownership and xattrs (`-U`): what an unprivileged user can check out. */
  userMode?: boolean;
  /** Overwrite existing files (`--union`). */
  union?: boolean;
  /** Only this path of the commit (`--subpath`). */
  subpath?: string;
  /** Fail instead of copying when a hardlink is impossible (`-H`). */
  requireHardlinks?: boolean;
  /** Never hardlink. */
  forceCopy?: boolean;
  /** Keep existing files and directories, only add new ones (`--union-add`). */
  unionAdd?: boolean;
  /** Like union-add, but a file already there must be the same (a hardlink to the same object, or equal), else fail (`--union-identical`, needs `-H`). */
  unionIdentical?: boolean;
  /** `.wh.NAME` files remove NAME from the destination and are not checked out (`--whiteouts`). */
  whiteouts?: boolean;
  /** `.ostree-wh.NAME` files become NAME, a 0:0 character device (`--process-passthrough-whiteouts`). */
  passthroughWhiteouts?: boolean;
  /** A missing subpath is not an error: nothing is checked out (`--allow-noent`). */
  allowNoent?: boolean;
  /** Absolute paths in the commit ("/usr/share/doc") left out (`--skip-list`). */
  skip?: Set<string>;
  /** Directory modes masked to 0775 (`-M`, `--bareuseronly-dirs`). */
  bareuseronlyDirs?: boolean;
  /** syncfs the destination once written. */
  fsync?: boolean;
  concurrency?: number;
  signal?: AbortSignal;
}

export interface CheckoutStats {
  files: number;
  hardlinked: number;
  copied: number;
  dirs: number;
}

interface Ctx {
  repo: Repo;
  opts: CheckoutOptions;
  stats: CheckoutStats;
  canHardlink: boolean;
  /**
   * Who owns the files we create and which mode bits the umask clears, once
   * known from the first directory we made: copies then need no chown or
   * chmod when those already come out right.
   */
  created?: { uid: number; gid: number; umask: number };
}

/** Check out `rev` (or its `subpath`) to `dest`, which must not exist unless `union`. */
export async function checkout(repo: Repo, rev: string, dest: string, given: CheckoutOptions = {}): Promise<CheckoutStats> {
  return mapNoSpace({ operation: `checking out ${rev} to ${dest}`, path: dest }, () => checkoutChecked(repo, rev, dest, given));
}

async function checkoutChecked(repo: Repo, rev: string, dest: string, given: CheckoutOptions): Promise<CheckoutStats> {
  if (given.unionIdentical && !given.requireHardlinks) {
    throw new OstreeTsError(Codes.USAGE, '--union-identical requires --require-hardlinks (-H): files already there are compared as hardlinks of the same object.');
  }
  const adding = given.unionAdd === true || given.unionIdentical === true;
  if ([given.union, given.unionAdd, given.unionIdentical].filter(Boolean).length > 1) {
    throw new OstreeTsError(Codes.USAGE, 'Choose one of --union, --union-add and --union-identical.');
  }
  // The union variants all merge into what is there; how a file already there is treated differs.
  const opts: CheckoutOptions = { ...given, union: given.union === true || adding };
  const stats = await checkoutOne(repo, rev, dest, opts);
  if (opts.fsync) await syncFilesystem(dest).catch(() => undefined);
  return stats;
}

async function checkoutOne(repo: Repo, rev: string, dest: string, opts: CheckoutOptions): Promise<CheckoutStats> {
  const checksum = (await resolveRev(repo, rev)) as string;
  if (await repo.isCommitPartial(checksum)) {
    throw new OstreeTsError(Codes.OBJECT_MISSING, `Commit ${checksum} is only partially present (an interrupted pull). Pull it again before checking it out.`, { checksum });
  }
  const commit = await repo.loadCommit(checksum);
  const ctx: Ctx = {
    repo, opts,
    stats: { files: 0, hardlinked: 0, copied: 0, dirs: 0 },
    canHardlink: !opts.forceCopy && !repo.isArchive,
  };
  let tree = commit.rootTree;
  let meta = commit.rootMeta;
  const parts = (opts.subpath ?? '/').split('/').filter((p) => p !== '');
  for (let i = 0; i < parts.length; i++) {
    const t = await repo.loadDirTree(tree);
    const d = t.dirs.find((x) => x.name === parts[i]);
    if (d) {
      tree = d.tree;
      meta = d.meta;
      continue;
    }
    const f = t.files.find((x) => x.name === parts[i]);
    if (f && i === parts.length - 1) {
      await fsp.mkdir(path.dirname(path.resolve(dest)), { recursive: true });
      await checkoutFile(ctx, f.checksum, path.resolve(dest), `/${parts.join('/')}`);
      return ctx.stats;
    }
    if (opts.allowNoent) return ctx.stats;
    throw new OstreeTsError(Codes.NOT_FOUND, `No such path ${opts.subpath} in commit ${checksum}.`, { subpath: opts.subpath, checksum });
  }
  if (linkBlindly(ctx) && !opts.union && !opts.signal && !special(opts)) await checkoutLinkFarm(ctx, tree, meta, path.resolve(dest));
  else await checkoutDir(ctx, tree, meta, path.resolve(dest), '/');
  return ctx.stats;
}

interface FarmDir {
  dest: string;
  rel: string;
  meta: string;
  tree: DirTree;
}

/**
 * A bare repository's checkout is a hardlink farm: every directory's listing
 * is read first (many at once), then the directories and links are made with
 * one synchronous call each, in tree order, and each directory gets its
 * metadata after its contents. Tens of thousands of link(2) calls go several
 * times faster this way than each through the thread pool.
 */
async function checkoutLinkFarm(ctx: Ctx, rootTree: string, rootMeta: string, dest: string): Promise<void> {
  const join = (r: string, n: string): string => (r === '/' ? `/${n}` : `${r}/${n}`);
  // Listings, breadth first (blocking reads: thousands of small files).
  const dirs: FarmDir[] = [];
  const queue: Array<{ tree: string; meta: string; dest: string; rel: string }> = [{ tree: rootTree, meta: rootMeta, dest, rel: '/' }];
  for (let i = 0; i < queue.length; i++) {
    const d = queue[i];
    const tree = ctx.repo.loadDirTreeSync(d.tree);
    dirs.push({ ...d, tree });
    for (const c of tree.dirs) queue.push({ tree: c.tree, meta: c.meta, dest: path.join(d.dest, c.name), rel: join(d.rel, c.name) });
  }
  const metas = new Map<string, DirMeta>();
  for (const d of dirs) if (!metas.has(d.meta)) metas.set(d.meta, ctx.repo.loadDirMetaSync(d.meta));
  // Parents come before children in breadth-first order: make them all, then link.
  for (const d of dirs) {
    try {
      mkdirSync(d.dest, { mode: 0o700 });
    } catch (e) {
      if (isErrno(e, 'EEXIST')) {
        throw new OstreeTsError(Codes.EXISTS, `Cannot check out to ${d.dest}: it already exists. Remove it, or check out in union mode to merge into it.`, { path: d.dest, hint: { option: 'union' } });
      }
      throw e;
    }
    ctx.stats.dirs++;
  }
  for (const d of dirs) {
    for (const f of d.tree.files) {
      const target = path.join(d.dest, f.name);
      try {
        linkSync(ctx.repo.objectPath(f.checksum, 'file'), target);
        ctx.stats.files++;
        ctx.stats.hardlinked++;
      } catch (e) {
        if (isErrno(e, 'EEXIST')) throw new OstreeTsError(Codes.EXISTS, `Cannot check out ${join(d.rel, f.name)} to ${target}: it already exists.`, { path: target });
        // A missing object is named by the careful path; EXDEV or EMLINK become a copy there.
        await checkoutFile({ ...ctx, canHardlink: false }, f.checksum, target, join(d.rel, f.name));
      }
    }
  }
  const { uid, gid } = ctx.repo.host;
  for (let i = dirs.length - 1; i >= 0; i--) {
    const d = dirs[i];
    const m = metas.get(d.meta) as DirMeta;
    if (!ctx.opts.userMode) {
      if (m.uid !== uid || m.gid !== gid) lchownSync(d.dest, m.uid, m.gid);
      for (const x of m.xattrs) await writeXattr(d.dest, x.name, x.value);
    }
    chmodSync(d.dest, m.mode & 0o7777);
    utimesSync(d.dest, 0, 0);
  }
}

interface DirJob {
  tree: string;
  meta: string;
  dest: string;
  rel: string;
  /** The dirtree, loading ahead of its turn (started when the parent was listed). */
  loading?: Promise<DirTree>;
  /** Was there already (a union checkout): it keeps its own owner and mode, as in libostree. */
  existed?: boolean;
}

/** Start loading a dirtree now; a failure is reported when it is awaited. */
function prefetch(ctx: Ctx, tree: string): Promise<DirTree> {
  const p = ctx.repo.loadDirTree(tree);
  p.catch(() => undefined);
  return p;
}

/** Depth-first with a fixed pool of workers; each directory gets its metadata after its contents. */
async function checkoutDir(ctx: Ctx, treeCsum: string, metaCsum: string, dest: string, rel: string): Promise<void> {
  const join = (r: string, n: string): string => (r === '/' ? `/${n}` : `${r}/${n}`);
  await walkTree<DirJob, { checksum: string; name: string }>({ tree: treeCsum, meta: metaCsum, dest, rel }, {
    list: async (dir) => {
      ctx.opts.signal?.throwIfAborted();
      const tree = await (dir.loading ?? ctx.repo.loadDirTree(dir.tree));
      await makeDir(ctx, dir);
      const o = ctx.opts;
      let files = tree.files;
      let dirs = tree.dirs;
      if (o.skip?.size) {
        // As ostree: the list names files; directories are not skipped.
        files = files.filter((f) => !o.skip?.has(join(dir.rel, f.name)));
      }
      if (o.whiteouts) {
        // As libostree: a whiteout removes what a lower layer put there, and is itself not checked out.
        for (const f of files) if (f.name.startsWith('.wh.') && f.name.length > 4) await fsp.rm(path.join(dir.dest, f.name.slice(4)), { recursive: true, force: true });
        files = files.filter((f) => !f.name.startsWith('.wh.'));
      }
      return {
        files,
        dirs: dirs.map((d) => ({ tree: d.tree, meta: d.meta, dest: path.join(dir.dest, d.name), rel: join(dir.rel, d.name), loading: prefetch(ctx, d.tree) })),
      };
    },
    file: (f, dir) => checkoutFile(ctx, f.checksum, path.join(dir.dest, f.name), join(dir.rel, f.name)),
    finish: async (dir) => {
      if (!dir.existed) await applyDirMeta(ctx, dir.dest, await ctx.repo.loadDirMeta(dir.meta));
    },
  // Checking out a file is usually one link(2): many in flight keep the thread pool busy.
  }, { workers: ctx.opts.concurrency ?? 32, signal: ctx.opts.signal });
}

async function makeDir(ctx: Ctx, dir: DirJob): Promise<void> {
  try {
    if (!ctx.created && !ctx.opts.union) {
      // The first directory tells the umask and the owner of what we create.
      await fsp.mkdir(dir.dest, { mode: 0o777 });
      const st = await fsp.stat(dir.dest);
      await fsp.chmod(dir.dest, 0o700);
      ctx.created = { uid: st.uid, gid: st.gid, umask: 0o777 & ~(st.mode & 0o777) };
    } else {
      await fsp.mkdir(dir.dest, { mode: 0o700 });
    }
  } catch (e) {
    if (!isErrno(e, 'EEXIST')) throw e;
    if (!ctx.opts.union) {
      throw new OstreeTsError(Codes.EXISTS, `Cannot check out to ${dir.dest}: it already exists. Remove it, or check out in union mode to merge into it.`, { path: dir.dest, hint: { option: 'union' } });
    }
    const st = await fsp.lstat(dir.dest);
    if (!st.isDirectory()) {
      throw new OstreeTsError(Codes.EXISTS, `Cannot check out directory ${dir.rel} to ${dir.dest}: a non-directory is in the way.`, { path: dir.dest });
    }
    dir.existed = true;
  }
  ctx.stats.dirs++;
}

async function applyDirMeta(ctx: Ctx, dest: string, meta: DirMeta): Promise<void> {
  if (!ctx.opts.userMode) {
    await fsp.lchown(dest, meta.uid, meta.gid);
    for (const x of meta.xattrs) await writeXattr(dest, x.name, x.value);
  }
  await fsp.chmod(dest, meta.mode & (ctx.opts.bareuseronlyDirs ? 0o775 : 0o7777));
  // As libostree: directories a checkout creates get mtime 0, the same in every checkout (copies excepted).
  if (!ctx.opts.union && !ctx.opts.forceCopy) await fsp.utimes(dest, 0, 0);
}

/** Does the object file in a bare repo carry exactly what this checkout wants? */
function hardlinkable(ctx: Ctx, f: StoredFile): boolean {
  if (!ctx.canHardlink) return false;
  const mode = ctx.repo.mode;
  if (mode === 'bare') return true;
  // bare-user stores symlinks as regular files and keeps ownership in an xattr;
  // bare-user-only stores no ownership. Both are fine for user-mode checkouts only.
  if (mode === 'bare-user') return ctx.opts.userMode === true && (f.header.mode & S_IFMT) !== S_IFLNK;
  return ctx.opts.userMode === true || (f.header.uid === 0 && f.header.gid === 0 && ctx.repo.host.uid === 0);
}

/** Options only the careful, file-by-file path handles. */
function special(o: CheckoutOptions): boolean {
  return o.unionAdd === true || o.unionIdentical === true || o.whiteouts === true || o.passthroughWhiteouts === true || (o.skip?.size ?? 0) > 0 || o.bareuseronlyDirs === true;
}

/**
 * Under --union-add and --union-identical, is a file already at `dest` to be
 * kept (true), or is there nothing (false)? --union-identical fails on one
 * that is not the same object.
 */
async function keepExisting(ctx: Ctx, dest: string, rel: string, objectPath: string): Promise<boolean> {
  if (!ctx.opts.unionAdd && !ctx.opts.unionIdentical) return false;
  const st = await fsp.lstat(dest).catch((e: unknown) => {
    if (isErrno(e, 'ENOENT')) return null;
    throw e;
  });
  if (!st) return false;
  if (ctx.opts.unionAdd) return true;
  const obj = await fsp.lstat(objectPath).catch(() => null);
  if (obj && obj.dev === st.dev && obj.ino === st.ino) return true;
  throw new OstreeTsError(Codes.EXISTS, `Processing ${rel}: File exists, and is not the same object (--union-identical); remove ${dest} or use --union.`, { path: dest });
}

async function removeForUnion(ctx: Ctx, dest: string): Promise<void> {
  if (!ctx.opts.union || ctx.opts.unionAdd || ctx.opts.unionIdentical) return;
  try {
    const st = await fsp.lstat(dest);
    if (st.isDirectory()) {
      throw new OstreeTsError(Codes.EXISTS, `Cannot check out a file to ${dest}: a directory is in the way.`, { path: dest });
    }
    await fsp.unlink(dest);
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw e;
  }
}

/**
 * Objects of bare and bare-user-only repositories are exactly the files a
 * checkout wants (bare-user-only ones carry no owner), so they are linked
 * without reading their metadata first.
 */
function linkBlindly(ctx: Ctx): boolean {
  if (!ctx.canHardlink) return false;
  if (ctx.repo.mode === 'bare') return true;
  return ctx.repo.mode === 'bare-user-only' && (ctx.opts.userMode === true || ctx.repo.host.uid === 0);
}

async function checkoutFile(ctx: Ctx, checksum: string, dest: string, rel: string): Promise<void> {
  ctx.opts.signal?.throwIfAborted();
  if (linkBlindly(ctx) && !special(ctx.opts)) {
    await removeForUnion(ctx, dest);
    try {
      await fsp.link(ctx.repo.objectPath(checksum, 'file'), dest);
      ctx.stats.files++;
      ctx.stats.hardlinked++;
      return;
    } catch (e) {
      if (isErrno(e, 'EEXIST')) {
        throw new OstreeTsError(Codes.EXISTS, `Cannot check out ${rel} to ${dest}: it already exists. Remove it, or check out in union mode.`, { path: dest, hint: { option: 'union' } });
      }
      // Missing objects are reported by loadFile below; other failures (EXDEV, EMLINK) fall back to a copy.
    }
  }
  if (ctx.opts.passthroughWhiteouts && path.basename(dest).startsWith('.ostree-wh.') && path.basename(dest).length > 11) {
    const f = await ctx.repo.loadFile(checksum);
    const target = path.join(path.dirname(dest), path.basename(dest).slice(11));
    await removeForUnion(ctx, target);
    await makeWhiteoutDevice(target, f.header.mode).catch((e: Error) => {
      throw new OstreeTsError(Codes.IO, `Cannot make the whiteout device ${target} (for ${rel}): ${e.message}. Extracting overlayfs whiteouts needs root (CAP_MKNOD).`, { path: target });
    });
    if (!ctx.opts.userMode) await fsp.lchown(target, f.header.uid, f.header.gid);
    ctx.stats.files++;
    return;
  }
  if (await keepExisting(ctx, dest, rel, ctx.repo.objectPath(checksum, 'file'))) return;
  const f = await ctx.repo.loadFile(checksum);
  ctx.stats.files++;
  await removeForUnion(ctx, dest);
  try {
    if (hardlinkable(ctx, f)) {
      await fsp.link(f.objectPath, dest);
      ctx.stats.hardlinked++;
      return;
    }
    if (ctx.opts.requireHardlinks && (f.header.mode & S_IFMT) !== S_IFLNK) {
      throw new OstreeTsError(Codes.USAGE, `Cannot hardlink ${rel} from a ${ctx.repo.mode} repository${ctx.opts.userMode ? '' : ' without -U'}; drop -H to copy instead.`, { path: rel });
    }
    await writeCopy(ctx, f, dest);
    ctx.stats.copied++;
  } catch (e) {
    if (isErrno(e, 'EEXIST')) {
      throw new OstreeTsError(Codes.EXISTS, `Cannot check out ${rel} to ${dest}: it already exists. Remove it, or check out in union mode.`, { path: dest, hint: { option: 'union' } });
    }
    throw e;
  }
}

async function writeCopy(ctx: Ctx, f: StoredFile, dest: string): Promise<void> {
  const h: FileHeader = f.header;
  if ((h.mode & S_IFMT) === S_IFLNK) {
    await fsp.symlink(h.symlinkTarget, dest);
    if (!ctx.opts.userMode) {
      await fsp.lchown(dest, h.uid, h.gid);
      for (const x of h.xattrs) await writeXattr(dest, x.name, x.value);
    }
    return;
  }
  // User mode drops setuid and setgid, as ostree does.
  const mode = ctx.opts.userMode ? h.mode & 0o1777 : h.mode & 0o7777;
  const c = ctx.created;
  const chown = !ctx.opts.userMode && !(c && c.uid === h.uid && c.gid === h.gid);
  // Create with the final mode when nothing would change it afterwards.
  const direct = c !== undefined && !chown && (mode & 0o7000) === 0 && (mode & c.umask) === 0 && (mode & 0o200) !== 0;
  const createMode = direct ? mode : 0o600;
  if (f.size < 1 << 20) {
    await writeNewFile(dest, await f.read(), createMode);
  } else {
    await pipeline(f.open(), createWriteStream(dest, { flags: 'wx', mode: createMode })).catch((e: unknown) => {
      throw withPath(e, dest);
    });
  }
  if (!ctx.opts.userMode) {
    if (chown) await fsp.chown(dest, h.uid, h.gid);
    for (const x of h.xattrs) await writeXattr(dest, x.name, x.value);
  }
  if (!direct) await fsp.chmod(dest, mode);
}
