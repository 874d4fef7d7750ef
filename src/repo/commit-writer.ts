/**
 * Writing trees and commits: a directory on disk becomes dirtree, dirmeta and
 * content objects; a commit object ties a root to its metadata.
 */
import type { Stats } from 'node:fs';
import { Codes, OstreeTsError } from '../errors/index.js';
import {
  canonicalXattrs, encodeCommit, encodeDirMeta, encodeDirTree, sortByName, validateFilename,
  S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, type Commit, type DirTree, type FileHeader, type VarDict, type Xattr,
} from '../format/index.js';
import { fsp, path, readXattrs } from '../io/index.js';
import type { Transaction } from './transaction.js';
import { STREAM_THRESHOLD } from './transaction.js';

export interface TreeWriteOptions {
  ownerUid?: number;
  ownerGid?: number;
  /** Do not read extended attributes from the source. */
  noXattrs?: boolean;
  /** Files 0644/0755, directories 0755, owner 0:0 (forced in bare-user-only repositories). */
  canonicalPermissions?: boolean;
  /** How many files are read and written at once. */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (event: { phase: 'commit'; filesDone: number; bytesDone: number }) => void;
}

export interface RootChecksums {
  tree: string;
  meta: string;
}

/** A counting semaphore: at most `limit` tasks run at once. */
export class Limiter {
  private active = 0;
  private readonly queue: Array<() => void> = [];
  constructor(private readonly limit: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Write the directory `root` (recursively) into the transaction. */
export async function writeDirectory(txn: Transaction, root: string, opts: TreeWriteOptions = {}): Promise<RootChecksums> {
  const st = await fsp.lstat(root).catch((e) => {
    throw new OstreeTsError(Codes.NOT_FOUND, `Cannot read the tree to commit, ${root}: ${(e as Error).message}.`, { path: root }, { cause: e });
  });
  if (!st.isDirectory()) throw new OstreeTsError(Codes.USAGE, `${root} is not a directory; --tree=dir= needs a directory.`, { path: root });
  const ctx: WalkContext = {
    txn, opts,
    limiter: new Limiter(opts.concurrency ?? 32),
    noXattrs: opts.noXattrs === true || txn.repo.mode === 'bare-user-only',
    canonical: opts.canonicalPermissions === true || txn.repo.mode === 'bare-user-only',
    filesDone: 0,
    bytesDone: 0,
  };
  return writeDir(ctx, root, '/', st);
}

interface WalkContext {
  txn: Transaction;
  opts: TreeWriteOptions;
  limiter: Limiter;
  noXattrs: boolean;
  canonical: boolean;
  filesDone: number;
  bytesDone: number;
}

function owner(ctx: WalkContext, st: Stats): { uid: number; gid: number } {
  if (ctx.canonical) return { uid: 0, gid: 0 };
  return { uid: ctx.opts.ownerUid ?? st.uid, gid: ctx.opts.ownerGid ?? st.gid };
}

async function xattrsOf(ctx: WalkContext, p: string): Promise<Xattr[]> {
  if (ctx.noXattrs) return [];
  return canonicalXattrs(await readXattrs(p));
}

function fileTypeName(st: Stats): string {
  if (st.isBlockDevice()) return 'a block device';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'an unsupported file type';
}

async function writeDir(ctx: WalkContext, dirPath: string, rel: string, st: Stats): Promise<RootChecksums> {
  ctx.opts.signal?.throwIfAborted();
  const { uid, gid } = owner(ctx, st);
  const mode = ctx.canonical ? (st.mode & (S_IFDIR | 0o755)) : st.mode & (S_IFMT | 0o7777);
  const metaBytes = encodeDirMeta({ uid, gid, mode, xattrs: await xattrsOf(ctx, dirPath) });
  const metaPromise = ctx.txn.writeMetadata('dirmeta', metaBytes);

  const rawNames = await ctx.limiter.run(() => fsp.readdir(dirPath, { encoding: 'buffer' }));
  const tree: DirTree = { files: [], dirs: [] };
  await Promise.all(rawNames.map(async (raw) => {
    let name: string;
    try {
      name = utf8.decode(raw);
    } catch {
      throw new OstreeTsError(Codes.INVALID_NAME, `Cannot commit ${path.join(dirPath, raw.toString('latin1'))}: its name is not valid UTF-8. Rename it.`, { path: rel });
    }
    const why = validateFilename(name);
    if (why) throw new OstreeTsError(Codes.INVALID_NAME, `Cannot commit ${rel}: it contains ${why}.`, { path: rel });
    const full = path.join(dirPath, name);
    const childRel = rel === '/' ? `/${name}` : `${rel}/${name}`;
    const cst = await ctx.limiter.run(() => fsp.lstat(full));
    if (cst.isDirectory()) {
      const sub = await writeDir(ctx, full, childRel, cst);
      tree.dirs.push({ name, tree: sub.tree, meta: sub.meta });
    } else if (cst.isFile() || cst.isSymbolicLink()) {
      const checksum = await ctx.limiter.run(() => writeFileEntry(ctx, full, childRel, cst));
      tree.files.push({ name, checksum });
    } else {
      throw new OstreeTsError(Codes.UNSUPPORTED_FILE_TYPE, `Cannot commit ${childRel}: it is ${fileTypeName(cst)}. OSTree trees hold only regular files, symlinks and directories; remove it or exclude it from the tree.`, { path: childRel });
    }
  }));
  sortByName(tree.files);
  sortByName(tree.dirs);
  const treeChecksum = await ctx.txn.writeMetadata('dirtree', encodeDirTree(tree));
  return { tree: treeChecksum, meta: await metaPromise };
}

async function writeFileEntry(ctx: WalkContext, full: string, rel: string, st: Stats): Promise<string> {
  ctx.opts.signal?.throwIfAborted();
  const { uid, gid } = owner(ctx, st);
  const isLink = st.isSymbolicLink();
  let mode = st.mode & (S_IFMT | 0o7777);
  if (ctx.canonical && !isLink) mode = st.mode & (S_IFREG | 0o755);
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
    const data = await fsp.readFile(full);
    if (data.length !== st.size) {
      throw new OstreeTsError(Codes.IO, `${rel} changed size while it was being committed. Commit again once nothing writes to it.`, { path: rel });
    }
    checksum = await ctx.txn.writeContent(header, { kind: 'buffer', data });
  }
  progress(ctx, st.size);
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
