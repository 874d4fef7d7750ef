/**
 * `commit --tree=tar=FILE`: a tar stream (plain, gzip or zstd) into the
 * mutable tree, entry by entry, as OSTree imports archives. Content objects
 * are written while the archive streams by; nothing is unpacked on disk.
 *
 * Hostile entries are refused with the entry named: absolute paths, `..`
 * components, paths that would go through a symlink or file placed earlier,
 * device nodes, FIFOs, sizes the data does not hold, and inputs that expand
 * beyond a limit.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { encodeDirMeta, validateFilename, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, type FileHeader, type Xattr } from '../format/objects.js';
import { decompressAuto } from '../io/compress.js';
import { readTar, type TarEntry } from '../io/tar.js';
import type { CommitModifier, StatInfo } from './commit-filter.js';
import { MDir, joinPath, type FileSlot } from './mtree.js';
import { STREAM_THRESHOLD, type Transaction } from './transaction.js';

export interface TarImportOptions {
  /** Create missing parent directories (0755, owned like the entry), as --tar-autocreate-parents. */
  autocreateParents?: boolean;
  /** --tar-pathname-filter=REGEX,REPLACEMENT, already split. */
  pathnameFilter?: { regex: RegExp; replacement: string };
  /** Refuse input that decompresses to more than this many bytes. */
  maxBytes?: number;
  modifier: CommitModifier;
  noXattrs?: boolean;
  /** How many content writes may be in flight while the archive streams on. */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (event: { phase: 'commit'; filesDone: number; bytesDone: number }) => void;
}

/** Default limit on the decompressed size of an archive: 64 GiB. */
export const DEFAULT_TAR_MAX_BYTES = 64 * 1024 ** 3;

const DEFAULT_DIRMODE = S_IFDIR | 0o755;

interface Deferred {
  parent: MDir;
  name: string;
  entry: string;
  target: string;
  /** The link entry carried the content itself. */
  payload: boolean;
}

/** Parse `--tar-pathname-filter=REGEX,REPLACEMENT` (GLib-style \N back-references become $N). */
export function parsePathnameFilter(spec: string): { regex: RegExp; replacement: string } {
  const comma = spec.indexOf(',');
  if (comma < 0) throw new OstreeTsError(Codes.USAGE, "Missing ',' in the tar pathname filter: expected REGEX,REPLACEMENT.", { spec });
  let regex: RegExp;
  try {
    regex = new RegExp(spec.slice(0, comma), 'g');
  } catch (e) {
    throw new OstreeTsError(Codes.USAGE, `The tar pathname filter is not valid: ${(e as Error).message}.`, { spec });
  }
  const replacement = spec.slice(comma + 1).replace(/\$/g, '$$$$').replace(/\\(\d)/g, '$$$1').replace(/\\g<(\d+)>/g, '$$$1');
  return { regex, replacement };
}

/** OSTree's relativizing: leading "/" and "./" go, "." alone is the root (""). */
function relativize(p: string): string {
  let s = p;
  for (;;) {
    if (s.startsWith('./')) s = s.slice(2);
    else if (s.startsWith('/')) s = s.slice(1);
    else break;
  }
  return s === '.' ? '' : s;
}

function squashTrailingSlashes(p: string): string {
  let end = p.length;
  while (end > 1 && p[end - 1] === '/') end--;
  return p.slice(0, end);
}

class ArchiveImport {
  private readonly deferred: Deferred[] = [];
  private readonly pending = new Set<Promise<void>>();
  private failure: unknown = null;
  private filesDone = 0;
  private bytesDone = 0;

  constructor(
    private readonly txn: Transaction,
    private readonly root: MDir,
    private readonly name: string,
    private readonly opts: TarImportOptions,
  ) {}

  private unsafe(entry: string, why: string, next: string): OstreeTsError {
    return new OstreeTsError(Codes.ARCHIVE_UNSAFE, `${this.name}: entry "${entry}" ${why}; nothing was committed. ${next}`, { archive: this.name, entry });
  }

  private invalid(entry: string, why: string): OstreeTsError {
    return new OstreeTsError(Codes.ARCHIVE_INVALID, `${this.name}: entry "${entry}": ${why}; nothing was committed.`, { archive: this.name, entry });
  }

  /** The entry's path inside the tree, as components; refuses what could escape the root. */
  private components(raw: string, entry: string): { rel: string; parts: string[] } {
    if (raw.startsWith('/')) {
      throw this.unsafe(entry, 'has an absolute path', 'Archives for a tree must name entries relative to its root (tar -C ROOT -cf FILE .).');
    }
    if (raw.split('/').includes('..')) {
      throw this.unsafe(entry, "has a '..' component that would climb out of the tree", 'Rebuild the archive without such names.');
    }
    let rel = relativize(raw);
    if (this.opts.pathnameFilter) rel = rel.replace(this.opts.pathnameFilter.regex, this.opts.pathnameFilter.replacement);
    rel = squashTrailingSlashes(rel);
    const parts: string[] = [];
    for (const c of rel.split('/')) {
      if (c === '' ) continue;
      if (c === '..') throw this.unsafe(entry, "has a '..' component (after the pathname filter)", 'Fix the filter.');
      if (c === '.') throw this.invalid(entry, "a '.' component in the middle of the path");
      const why = validateFilename(c);
      if (why) throw this.invalid(entry, `the name contains ${why}`);
      parts.push(c);
    }
    return { rel: parts.join('/'), parts };
  }

  /** The directory that will hold the entry, creating parents if allowed. */
  private async parentOf(parts: string[], entry: string, tarEntry: TarEntry): Promise<MDir> {
    let dir = this.root;
    let where = '/';
    for (let i = 0; i < parts.length - 1; i++) {
      await dir.expand(this.txn);
      const next = dir.dirs.get(parts[i]);
      if (next) {
        dir = next;
        where = joinPath(where, parts[i]);
        continue;
      }
      if (dir.files.has(parts[i])) {
        throw this.unsafe(entry, `would be written through ${joinPath(where, parts[i])}, which is a symlink or file earlier in the archive`, 'An archive must not place files through links it creates.');
      }
      if (!this.opts.autocreateParents) {
        throw new OstreeTsError(Codes.ARCHIVE_INVALID, `${this.name}: entry "${entry}": its parent directory ${joinPath(where, parts[i])} is not in the archive (OSTree needs each directory before what it holds). Add it to the archive, or let missing parents be created as 0755 directories.`, { archive: this.name, entry, hint: { option: 'tarAutocreateParents' } });
      }
      return this.createParents(parts, entry, tarEntry);
    }
    await dir.expand(this.txn);
    return dir;
  }

  /**
   * As OSTree does: the root and every parent of the entry get a default
   * dirmeta (0755, the entry's owner), existing ones included.
   */
  private async createParents(parts: string[], entry: string, tarEntry: TarEntry): Promise<MDir> {
    const meta = await this.txn.writeMetadata('dirmeta', encodeDirMeta({ uid: tarEntry.uid, gid: tarEntry.gid, mode: DEFAULT_DIRMODE, xattrs: [] }));
    let dir = this.root;
    dir.meta = meta;
    let where = '/';
    for (let i = 0; i < parts.length - 1; i++) {
      await dir.expand(this.txn);
      if (dir.files.has(parts[i])) {
        throw this.unsafe(entry, `would be written through ${joinPath(where, parts[i])}, which is a symlink or file earlier in the archive`, 'An archive must not place files through links it creates.');
      }
      dir = dir.ensureDir(parts[i], where);
      dir.meta = meta;
      where = joinPath(where, parts[i]);
    }
    await dir.expand(this.txn);
    return dir;
  }

  /**
   * In reverse archive order: libarchive, which OSTree reads archives with,
   * prepends each attribute to its list, and the order is part of the checksum.
   */
  private xattrs(e: TarEntry): Xattr[] {
    if (this.opts.noXattrs) return [];
    return e.xattrs.map((x) => ({ name: x.name, value: x.value })).reverse();
  }

  /** Keep a content write going while the archive streams on, a bounded number at a time. */
  private async spawn(work: Promise<void>): Promise<void> {
    const p = work.then(
      () => { this.pending.delete(p); },
      (e) => { this.pending.delete(p); this.failure ??= e; },
    );
    this.pending.add(p);
    if (this.pending.size >= (this.opts.concurrency ?? 32)) await Promise.race(this.pending);
    if (this.failure) throw this.failure;
  }

  async drain(): Promise<void> {
    await Promise.all(this.pending);
    if (this.failure) throw this.failure;
  }

  private progress(bytes: number): void {
    this.filesDone++;
    this.bytesDone += bytes;
    if (this.opts.onProgress && this.filesDone % 256 === 0) {
      this.opts.onProgress({ phase: 'commit', filesDone: this.filesDone, bytesDone: this.bytesDone });
    }
  }

  async entry(e: TarEntry): Promise<void> {
    this.opts.signal?.throwIfAborted();
    const entry = e.path;
    const { rel, parts } = this.components(e.path, entry);
    const abs = `/${rel}`;
    const mod = this.opts.modifier;
    // As OSTree does: the skip list is consulted before the type, so it can leave out device nodes.
    if (mod.skips(abs)) return;
    if (e.type === 'chardev' || e.type === 'blockdev' || e.type === 'fifo' || e.type === 'other') {
      const what = { chardev: 'a character device', blockdev: 'a block device', fifo: 'a FIFO', other: `of the unsupported type ${e.typeName}` }[e.type];
      throw this.unsafe(entry, `is ${what}`, 'OSTree trees hold only regular files, symlinks and directories; leave it out of the archive (a skip list does), and create devices in /dev at run time.');
    }
    const typeBits = e.type === 'directory' ? S_IFDIR : e.type === 'symlink' ? S_IFLNK : S_IFREG;
    if (parts.length === 0 && e.type !== 'directory') throw this.invalid(entry, 'the root of the tree must be a directory');
    const st: StatInfo = mod.apply(abs, { mode: typeBits | e.mode, uid: e.uid, gid: e.gid });
    const parent = await this.parentOf(parts, entry, e);
    const name = parts[parts.length - 1] ?? '';
    const where = '/' + parts.slice(0, -1).join('/');

    if (e.type === 'directory') {
      const dir = name === '' ? parent : parent.ensureDir(name, where);
      dir.meta = await this.txn.writeMetadata('dirmeta', encodeDirMeta({ uid: st.uid, gid: st.gid, mode: st.mode, xattrs: this.xattrs(e) }));
      return;
    }
    if (e.type === 'hardlink') {
      const { parts: targetParts } = this.components(e.linkpath, `${entry} (hard link target ${e.linkpath})`);
      if (targetParts.length === 0) throw this.invalid(entry, 'a hard link to the root directory');
      this.deferred.push({ parent, name, entry, target: targetParts.join('/'), payload: e.size > 0 });
      // A hard link without data gets its target's content at the end; one with data (as
      // libarchive reads some archives) is imported now and becomes the content of them all.
      if (e.size === 0) return;
    }
    const header: FileHeader = {
      uid: st.uid, gid: st.gid, mode: st.mode, rdev: 0,
      symlinkTarget: e.type === 'symlink' ? e.linkpath : '',
      xattrs: this.xattrs(e),
    };
    const slot: FileSlot = { checksum: null };
    parent.putFile(name, slot, where);
    if (e.type === 'symlink') {
      if (e.linkpath === '') throw this.invalid(entry, 'a symlink without a target');
      await this.spawn(this.txn.writeContent(header, { kind: 'symlink' }).then((c) => { slot.checksum = c; }));
      this.progress(0);
      return;
    }
    if (e.size >= STREAM_THRESHOLD) {
      slot.checksum = await this.txn.writeContentStream(header, e.size, e.body(), `${this.name}: ${entry}`);
    } else {
      const chunks: Buffer[] = [];
      for await (const c of e.body()) chunks.push(c);
      const data = Buffer.concat(chunks, e.size);
      await this.spawn(this.txn.writeContent(header, { kind: 'buffer', data }).then((c) => { slot.checksum = c; }));
    }
    this.progress(e.size);
  }

  /**
   * Hard links take their target's content as it stands at the end of the
   * archive; where a link carried data, that data becomes the target's (and
   * every other link's) content, as OSTree does.
   */
  async finishHardlinks(): Promise<void> {
    const payloads = new Map<string, FileSlot>();
    for (const d of this.deferred) {
      if (!d.payload || payloads.has(d.target)) continue;
      const slot = d.parent.files.get(d.name);
      if (slot) payloads.set(d.target, slot);
    }
    for (const d of this.deferred) {
      const parts = d.target.split('/');
      let dir = this.root;
      let where = '/';
      for (const c of parts.slice(0, -1)) {
        await dir.expand(this.txn);
        const next = dir.dirs.get(c);
        if (!next) throw this.invalid(d.entry, `its hard link target /${d.target} is not in the archive`);
        dir = next;
        where = joinPath(where, c);
      }
      await dir.expand(this.txn);
      const last = parts[parts.length - 1];
      const payload = payloads.get(d.target);
      if (payload) {
        if (dir.dirs.has(last)) throw this.invalid(d.entry, `its hard link target /${d.target} is a directory`);
        dir.putFile(last, payload, where);
      }
      const slot = dir.files.get(last);
      if (!slot) {
        throw this.invalid(d.entry, dir.dirs.has(last) ? `its hard link target /${d.target} is a directory` : `its hard link target /${d.target} is not in the archive`);
      }
      d.parent.putFile(d.name, slot, where);
    }
  }

  async finishRoot(): Promise<void> {
    if (!this.opts.autocreateParents || this.root.meta !== null) return;
    const st = this.opts.modifier.apply('/', { mode: DEFAULT_DIRMODE, uid: 0, gid: 0 });
    this.root.meta = await this.txn.writeMetadata('dirmeta', encodeDirMeta({ uid: st.uid, gid: st.gid, mode: (st.mode & ~S_IFMT) | S_IFDIR, xattrs: [] }));
  }
}

/** Import a tar stream into `root` (which may already hold earlier layers). */
export async function importTar(
  txn: Transaction, root: MDir, source: AsyncIterable<Buffer>, name: string, opts: TarImportOptions,
): Promise<void> {
  await root.expand(txn);
  const imp = new ArchiveImport(txn, root, name, opts);
  try {
    const bytes = decompressAuto(source, { maxBytes: opts.maxBytes ?? DEFAULT_TAR_MAX_BYTES, name });
    for await (const e of readTar(bytes, { name })) await imp.entry(e);
    await imp.finishHardlinks();
    await imp.finishRoot();
  } finally {
    // Let every write started finish (or fail) before the transaction goes on or is aborted.
    await Promise.allSettled([imp.drain()]);
  }
  await imp.drain();
}
