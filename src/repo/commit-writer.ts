/**
 * Writing trees and commits: a directory on disk becomes dirtree, dirmeta and
 * content objects; a commit object ties a root to its metadata.
 */
import type { Stats } from 'node:fs';
import { Codes, OstreeTsError } from '../errors/index.js';
import type { VarDict } from '../format/gvariant.js';
import { canonicalXattrs, encodeCommit, encodeDirMeta, encodeDirTree, sortByName, validateFilename, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, type Commit, type DirTree, type FileHeader, type Xattr } from '../format/objects.js';
import { fsp, Limiter, lstatQuick, lstatSync, path, readdirSync, readInto } from '../io/fs.js';
import { readXattrs, readXattrsSync } from '../io/xattr.js';
import { CommitModifier } from './commit-filter.js';
import { StagingWriter } from './staging-writer.js';
import type { Transaction } from './transaction.js';
import { walkTree } from './tree-walk.js';
import { STREAM_THRESHOLD } from './transaction.js';

export interface TreeWriteOptions {
  ownerUid?: number;
  ownerGid?: number;
  /** Do not read extended attributes from the source. */
  noXattrs?: boolean;
  /** Files 0644/0755, directories 0755, owner 0:0 (forced in bare-user-only repositories). */
  canonicalPermissions?: boolean;
  /** Owners, permissions, statoverride and skip-list (built from the fields above when absent). */
  modifier?: CommitModifier;
  /** How many files are read and written at once on the main thread; when set, every file is (no worker threads). */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (event: { phase: 'commit'; filesDone: number; bytesDone: number }) => void;
  /** Added to as directories are walked: their regular files and those files' bytes. */
  tally?: { files: number; bytes: number };
}

export interface RootChecksums {
  tree: string;
  meta: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Write the directory `root` (recursively) into the transaction. */
export async function writeDirectory(txn: Transaction, root: string, opts: TreeWriteOptions = {}): Promise<RootChecksums> {
  const st = await fsp.lstat(root).catch((e) => {
    throw new OstreeTsError(Codes.NOT_FOUND, `Cannot read the tree to commit, ${root}: ${(e as Error).message}.`, { path: root }, { cause: e });
  });
  if (!st.isDirectory()) throw new OstreeTsError(Codes.USAGE, `${root} is not a directory; a directory tree source needs one.`, { path: root });
  const mod = opts.modifier ?? new CommitModifier(opts, txn.repo.mode === 'bare-user-only');
  const ctx: WalkContext = {
    txn, opts,
    // libostree reads no xattrs from a directory tree under canonical permissions (and so in bare-user-only) or core.disable-xattrs.
    noXattrs: opts.noXattrs === true || mod.canonical || txn.repo.disableXattrs,
    mod,
    filesDone: 0,
    bytesDone: 0,
  };
  return walkDirectory(ctx, root, st);
}

interface WalkContext {
  txn: Transaction;
  opts: TreeWriteOptions;
  noXattrs: boolean;
  mod: CommitModifier;
  filesDone: number;
  bytesDone: number;
}

/** Owner and mode as committed: the modifier's changes applied to what lstat says. */
function committedStat(ctx: WalkContext, rel: string, st: Stats): { mode: number; uid: number; gid: number } {
  const base = { mode: st.mode & (S_IFMT | 0o7777), uid: st.uid, gid: st.gid };
  return ctx.mod.isIdentity ? base : ctx.mod.apply(rel, base);
}

async function xattrsOf(ctx: WalkContext, p: string): Promise<Xattr[]> {
  if (ctx.noXattrs) return [];
  return canonicalXattrs(await readXattrs(p));
}

function fileTypeName(mode: number): string {
  switch (mode & S_IFMT) {
    case 0o060000: return 'a block device';
    case 0o020000: return 'a character device';
    case 0o010000: return 'a FIFO';
    case 0o140000: return 'a socket';
    default: return 'an unsupported file type';
  }
}

/** A directory being committed. */
interface DirNode {
  path: string;
  rel: string;
  name: string;
  st: Stats | null;
  tree: DirTree;
  result?: RootChecksums;
}

/**
 * Walk depth-first with a fixed pool of workers (see tree-walk.ts); a
 * directory's dirtree and dirmeta are written as soon as its last child is.
 */
async function walkDirectory(ctx: WalkContext, rootPath: string, rootSt: Stats): Promise<RootChecksums> {
  const root: DirNode = { path: rootPath, rel: '/', name: '', st: rootSt, tree: { files: [], dirs: [] } };
  // Small files are read into reusable buffers, one per file in flight: no garbage per file.
  const buffers: Buffer[] = [];
  const onMain = new Limiter(ctx.opts.concurrency ?? 8);
  const writeOnMain = (full: string, rel: string): Promise<string> => onMain.run(async () => {
    const st = await lstatQuick(full);
    if (!st.isFile() && !st.isSymbolicLink()) throw unsupportedType(rel, st.mode);
    const scratch = buffers.pop() ?? Buffer.allocUnsafe(STREAM_THRESHOLD);
    try {
      return await writeFileEntry(ctx, full, rel, st, scratch);
    } finally {
      buffers.push(scratch);
    }
  });
  const offMain = WorkerFiles.for(ctx, onMain);
  try {
    await walkTree<DirNode, string>(root, {
      list: async (dir) => {
        ctx.opts.signal?.throwIfAborted();
        // Directories are listed, stat'ed and their xattrs read with blocking calls: one system call
        // each, where the thread pool's round trip costs several times that on a busy machine.
        const entries = readdirSync(dir.path, { withFileTypes: true, encoding: 'buffer' });
        const files: string[] = [];
        const dirs: DirNode[] = [];
        for (const e of entries) {
          const name = checkName(dir, e.name as unknown as Buffer);
          if (!ctx.mod.isIdentity && ctx.mod.skips(join(dir.rel, name))) continue;
          if (e.isDirectory()) dirs.push({ path: path.join(dir.path, name), rel: join(dir.rel, name), name, st: null, tree: { files: [], dirs: [] } });
          else files.push(name);
        }
        return { files, dirs };
      },
      file: async (name, dir) => {
        const full = path.join(dir.path, name);
        const rel = join(dir.rel, name);
        const checksum = (offMain && await offMain.write(full, rel)) || await writeOnMain(full, rel);
        dir.tree.files.push({ name, checksum });
      },
      finish: async (dir, parent) => {
        const st = dir.st ?? lstatSync(dir.path);
        const { uid, gid, mode } = committedStat(ctx, dir.rel, st);
        const xattrs = ctx.noXattrs ? [] : canonicalXattrs(readXattrsSync(dir.path));
        const [meta, tree] = await Promise.all([
          ctx.txn.writeMetadata('dirmeta', encodeDirMeta({ uid, gid, mode, xattrs })),
          ctx.txn.writeMetadata('dirtree', encodeDirTree({ files: sortByName(dir.tree.files), dirs: sortByName(dir.tree.dirs) })),
        ]);
        dir.result = { tree, meta };
        dir.tree = { files: [], dirs: [] };
        parent?.tree.dirs.push({ name: dir.name, tree, meta });
      },
    }, { workers: offMain ? WorkerFiles.IN_FLIGHT : ctx.opts.concurrency ?? 8, signal: ctx.opts.signal });
  } finally {
    await offMain?.close();
  }
  if (!root.result) throw new OstreeTsError(Codes.IO, `The walk of ${rootPath} did not complete.`, { path: rootPath });
  return root.result;
}

/**
 * Small files committed on worker threads (StagingWriter's `commitFile`):
 * each is read, hashed and, when new, staged in one run of synchronous calls
 * there, instead of a dozen trips through the thread pool from here. The
 * first files of a walk go the main thread's way, so a commit of a handful of
 * files starts no thread; once the tree proves larger, the workers start,
 * after the files in flight here are done (the two ways must not stage the
 * same object at once). Large files, and trees with per-path rules
 * (statoverride), stay on the main thread.
 */
class WorkerFiles {
  /** Files handed out at once: enough for full batches on both workers. */
  static readonly IN_FLIGHT = 256;
  /** Files committed on the main thread before the workers start. */
  private static readonly WARM_UP = 128;

  private seen = 0;
  private gate: Promise<void> | null = null;
  private writer: StagingWriter | null = null;

  private constructor(private readonly ctx: WalkContext, private readonly onMain: Limiter, private readonly make: () => StagingWriter) {}

  static for(ctx: WalkContext, onMain: Limiter): WorkerFiles | null {
    const rules = ctx.mod.uniformRules();
    if (!rules || ctx.opts.concurrency !== undefined) return null;
    const { txn } = ctx;
    return new WorkerFiles(ctx, onMain, () => new StagingWriter(txn.repo, 2, {
      stagingDir: txn.stagingDir,
      objectsDir: path.join(txn.repo.path, 'objects'),
      noXattrs: ctx.noXattrs,
      rules,
      newFileOwner: txn.newFileOwner,
      largeAt: STREAM_THRESHOLD,
    }));
  }

  /** The file's content checksum, or null when the main thread is to commit it. */
  async write(full: string, rel: string): Promise<string | null> {
    if (++this.seen <= WorkerFiles.WARM_UP) return null;
    this.gate ??= this.onMain.idle().then(() => {
      this.writer = this.make();
    });
    await this.gate;
    this.ctx.opts.signal?.throwIfAborted();
    const out = await (this.writer as StagingWriter).commitFile(full).catch((e: unknown) => {
      throw fromWorker(e, rel);
    });
    if ('deferred' in out) return null;
    if ('special' in out) throw unsupportedType(rel, out.special);
    this.ctx.txn.adoptContent(out.checksum, out.written, out.size, out.stored);
    progress(this.ctx, out.size);
    if (this.ctx.opts.tally) {
      this.ctx.opts.tally.files++;
      this.ctx.opts.tally.bytes += out.size;
    }
    return out.checksum;
  }

  async close(): Promise<void> {
    await this.writer?.close();
  }
}

/** A worker's failure for the file at `rel`, as the main thread's own would read. */
function fromWorker(e: unknown, rel: string): unknown {
  if ((e as NodeJS.ErrnoException).code === 'ECHANGED') {
    return new OstreeTsError(Codes.IO, `${rel} changed size while it was being committed. Commit again once nothing writes to it.`, { path: rel });
  }
  return e;
}

function unsupportedType(rel: string, mode: number): OstreeTsError {
  return new OstreeTsError(Codes.UNSUPPORTED_FILE_TYPE, `Cannot commit ${rel}: it is ${fileTypeName(mode)}. OSTree trees hold only regular files, symlinks and directories; remove it or exclude it from the tree.`, { path: rel });
}

function join(rel: string, name: string): string {
  return rel === '/' ? `/${name}` : `${rel}/${name}`;
}

function checkName(dir: { rel: string }, raw: Buffer): string {
  let name: string;
  try {
    name = utf8.decode(raw);
  } catch {
    throw new OstreeTsError(Codes.INVALID_NAME, `Cannot commit ${join(dir.rel, raw.toString('latin1'))}: its name is not valid UTF-8. Rename it.`, { path: dir.rel });
  }
  const why = validateFilename(name);
  if (why) throw new OstreeTsError(Codes.INVALID_NAME, `Cannot commit in ${dir.rel}: it contains ${why}.`, { path: dir.rel });
  return name;
}

async function writeFileEntry(ctx: WalkContext, full: string, rel: string, st: Stats, scratch: Buffer): Promise<string> {
  ctx.opts.signal?.throwIfAborted();
  const { uid, gid, mode } = committedStat(ctx, rel, st);
  const isLink = st.isSymbolicLink();
  const header: FileHeader = {
    uid, gid, mode, rdev: 0,
    symlinkTarget: isLink ? await fsp.readlink(full) : '',
    xattrs: await xattrsOf(ctx, full),
  };
  if (isLink) {
    header.mode = S_IFLNK | 0o777;
    const c = await ctx.txn.writeContent(header, { kind: 'symlink' });
    progress(ctx, 0);
    return c;
  }
  let checksum: string;
  if (st.size >= STREAM_THRESHOLD) {
    checksum = await ctx.txn.writeContent(header, { kind: 'file', path: full, size: st.size });
  } else {
    const n = await readInto(full, scratch, st.size);
    const data = scratch.subarray(0, n);
    if (n !== st.size) {
      throw new OstreeTsError(Codes.IO, `${rel} changed size while it was being committed. Commit again once nothing writes to it.`, { path: rel });
    }
    checksum = await ctx.txn.writeContent(header, { kind: 'buffer', data });
  }
  progress(ctx, st.size);
  if (ctx.opts.tally) {
    ctx.opts.tally.files++;
    ctx.opts.tally.bytes += st.size;
  }
  return checksum;
}

function progress(ctx: WalkContext, bytes: number): void {
  ctx.filesDone++;
  ctx.bytesDone += bytes;
  if (ctx.opts.onProgress && ctx.filesDone % 256 === 0) {
    ctx.opts.onProgress({ phase: 'commit', filesDone: ctx.filesDone, bytesDone: ctx.bytesDone });
  }
}

export interface CommitFields {
  root: RootChecksums;
  parent: string | null;
  subject: string;
  body: string;
  timestamp: bigint;
  metadata: VarDict;
}

/** Write a commit object; returns its checksum. */
export async function writeCommitObject(txn: Transaction, f: CommitFields): Promise<{ checksum: string; commit: Commit }> {
  const commit: Commit = {
    metadata: f.metadata,
    parent: f.parent,
    related: [],
    subject: f.subject,
    body: f.body,
    timestamp: f.timestamp,
    rootTree: f.root.tree,
    rootMeta: f.root.meta,
  };
  const checksum = await txn.writeMetadata('commit', encodeCommit(commit));
  return { checksum, commit };
}
