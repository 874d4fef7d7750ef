/**
 * `export`: a commit (or one of its subtrees) as a tar stream, plain, gzip
 * or zstd, with owners, modes and extended attributes (as PAX
 * `SCHILY.xattr.*` records). Importing the result gives the same tree.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { S_IFLNK, S_IFMT, type DirMeta, type Xattr } from '../format/objects.js';
import { encodeTarHeader, tarPadding, tarTrailer, type TarWriteEntry } from '../io/tar.js';
import { lookupPath } from './inspect.js';
import { resolveRev } from './refs.js';
import type { Repo, StoredFile } from './repo.js';

export interface ExportOptions {
  /** Only this directory (or file) of the commit. */
  subpath?: string;
  /** Put in front of every name ("rootfs/" gives "rootfs/usr/..."). */
  prefix?: string;
  noXattrs?: boolean;
  signal?: AbortSignal;
  onProgress?: (event: { phase: 'export'; filesDone: number; bytesDone: number }) => void;
}

/** Where the tar bytes go; `write` resolves when more may be written. */
export interface ByteSink {
  write(chunk: Buffer): Promise<void>;
}

export interface ExportStats {
  checksum: string;
  files: number;
  directories: number;
  bytes: number;
}

/** Files up to this size are read whole rather than streamed. */
const WHOLE_READ_LIMIT = 1024 * 1024;

/** How many content objects are opened ahead of the one being written. */
const LOOKAHEAD = 32;

export async function exportTree(repo: Repo, rev: string, sink: ByteSink, opts: ExportOptions = {}): Promise<ExportStats> {
  const checksum = await resolveRev(repo, rev) as string;
  const commit = await repo.loadCommit(checksum);
  const mtime = Number(commit.timestamp);
  const node = await lookupPath(repo, commit, opts.subpath ?? '/');
  const prefix = opts.prefix ?? '';
  const stats: ExportStats = { checksum, files: 0, directories: 0, bytes: 0 };
  // Written last-first, as libarchive writes them for OSTree: an import (ours or
  // OSTree's) reverses the archive order again, so the tree comes back identical.
  const xattrsOf = (x: Xattr[]): Xattr[] => (opts.noXattrs ? [] : [...x].reverse());
  const name = (rel: string): string => (prefix + rel) || '.';

  const putFile = async (rel: string, f: StoredFile, whole: Buffer | null): Promise<void> => {
    const isLink = (f.header.mode & S_IFMT) === S_IFLNK;
    const entry: TarWriteEntry = {
      path: name(rel),
      type: isLink ? 'symlink' : 'file',
      mode: f.header.mode,
      uid: f.header.uid,
      gid: f.header.gid,
      size: isLink ? 0 : f.size,
      linkpath: isLink ? f.header.symlinkTarget : undefined,
      mtime,
      xattrs: xattrsOf(f.header.xattrs),
    };
    await sink.write(encodeTarHeader(entry));
    if (!isLink) {
      let n = 0;
      if (whole) {
        n = whole.length;
        await sink.write(whole);
      } else {
        for await (const c of f.open()) {
          n += (c as Buffer).length;
          await sink.write(c as Buffer);
        }
      }
      if (n !== f.size) {
        throw new OstreeTsError(Codes.OBJECT_CORRUPT, `Object ${f.checksum}.file gave ${n} bytes, but its size is ${f.size}. Run 'ostree-ts fsck'.`, { checksum: f.checksum });
      }
      await sink.write(tarPadding(f.size));
      stats.bytes += f.size;
    }
    stats.files++;
    if (opts.onProgress && stats.files % 256 === 0) opts.onProgress({ phase: 'export', filesDone: stats.files, bytesDone: stats.bytes });
  };

  // Entries in archive order, each already being read: small files are loaded
  // (and inflated) whole while earlier entries are still being written.
  type Item = { kind: 'dir'; rel: string; meta: DirMeta } | { kind: 'file'; rel: string; file: StoredFile; whole: Buffer | null };
  const loadItem = async (rel: string, checksum: string): Promise<Item> => {
    const file = await repo.loadFile(checksum);
    const isReg = (file.header.mode & S_IFMT) !== S_IFLNK;
    return { kind: 'file', rel, file, whole: isReg && file.size <= WHOLE_READ_LIMIT ? await file.read() : null };
  };
  // Wrapped: an async generator would otherwise wait for each promise it yields.
  type Pending = { item: Promise<Item> };
  async function* items(tree: string, meta: string, rel: string): AsyncGenerator<Pending> {
    opts.signal?.throwIfAborted();
    const [t, m] = await Promise.all([repo.loadDirTree(tree), repo.loadDirMeta(meta)]);
    yield { item: Promise.resolve({ kind: 'dir', rel, meta: m } as Item) };
    const base = rel === '' ? '' : `${rel}/`;
    for (const f of t.files) {
      const p = loadItem(base + f.name, f.checksum);
      p.catch(() => undefined); // awaited in order by the writer
      yield { item: p };
    }
    for (const d of t.dirs) yield* items(d.tree, d.meta, base + d.name);
  }

  if (node.kind === 'dir') {
    const gen = items(node.tree, node.meta, '');
    const window: Promise<IteratorResult<Pending>>[] = [];
    try {
      // Each read-ahead is awaited in turn; until then a failure must not count as unhandled.
      const ahead = (): Promise<IteratorResult<Pending>> => {
        const p = gen.next();
        p.catch(() => undefined);
        return p;
      };
      for (let i = 0; i < LOOKAHEAD; i++) window.push(ahead());
      for (;;) {
        const r = await (window.shift() as Promise<IteratorResult<Pending>>);
        if (r.done) break;
        window.push(ahead());
        const item = await r.value.item;
        if (item.kind === 'dir') {
          const m = item.meta;
          await sink.write(encodeTarHeader({ path: name(item.rel), type: 'directory', mode: m.mode, uid: m.uid, gid: m.gid, mtime, xattrs: xattrsOf(m.xattrs) }));
          stats.directories++;
        } else {
          await putFile(item.rel, item.file, item.whole);
        }
      }
    } finally {
      await Promise.allSettled(window);
      await gen.return(undefined);
    }
  } else {
    await putFile(node.path.split('/').pop() as string, await repo.loadFile(node.checksum), null);
  }
  await sink.write(tarTrailer());
  return stats;
}
