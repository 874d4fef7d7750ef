/**
 * A write transaction. Objects are written into a private staging directory
 * under tmp/, made durable with one syncfs, then renamed into objects/
 * (commits last, after the other objects are durable: fault point
 * 'before-commit-rename' stops there). Refs are written by the caller after
 * `commit()`.
 */
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { Codes, InternalError, OstreeTsError } from '../errors/index.js';
import { sha256Hex } from '../format/checksum.js';
import { decodeDirTree, encodeFileHeader, objectRelPath, objectSuffix, type DirTree, type FileHeader, type ObjectType } from '../format/objects.js';
import { createDeflateRaw, deflateRaw, drained } from '../io/compress.js';
import { createReadStream, createWriteStream, fsp, isErrno, path, randomSuffix, syncFilesystem, readBootId, exists, writeNewFile, renameQuick, mapLimit, mkdirp } from '../io/fs.js';
import { LockFile } from '../io/ofd-lock.js';
import { recordSpaceAtFailure } from '../io/space.js';
import { writeXattr } from '../io/xattr.js';
import type { FaultPoint } from './fault-points.js';
import { SpaceReserve, readMinFreeSpace } from './free-space.js';
import { ObjectIndex } from './object-index.js';
import type { Repo } from './repo.js';
import { ARCHIVE_OBJECT_MODE, storedForm, type Owner, type StoredForm } from './stored-form.js';

/** Content at least this large is streamed rather than read whole. */
export const STREAM_THRESHOLD = 512 * 1024;

export type ContentSource =
  | { kind: 'buffer'; data: Buffer }
  | { kind: 'file'; path: string; size: number }
  | { kind: 'symlink' };

export interface TransactionCommitOptions {
  /** Move staged files into objects/ (pairs of from, to), for a caller with a faster way; default rename(2) each. */
  rename?: (moves: Array<[string, string]>) => Promise<void>;
}

export interface TransactionOptions {
  /** Override core.fsync for this transaction (`--fsync=false`). */
  fsync?: boolean;
}

export class Transaction {
  readonly repo: Repo;
  readonly stagingDir: string;
  readonly fsync: boolean;
  /** The objects written into the staging directory. */
  private readonly staged = new StagedObjects();
  private readonly inflight = new Map<string, Promise<boolean>>();
  /** What the repository holds, listed once per objects/XX directory: one readdir instead of an lstat per object. */
  private readonly index: ObjectIndex;
  private done = false;
  /** Stopped at a fault point: left as an interruption leaves it. */
  private stopped = false;
  private unlocked = false;
  /** `STAGING-lock` beside the staging directory, held exclusively while the transaction lives (libostree's protocol). */
  private stagingLock: LockFile | null = null;
  /** Objects written by this transaction, by type. */
  readonly stats = { written: 0, existing: 0, bytesWritten: 0 };
  /** What `commit --table-output` reports: write requests and new objects by kind, and the bytes of new metadata. */
  readonly counts = { metadataTotal: 0, metadataWritten: 0, contentTotal: 0, contentWritten: 0, contentBytes: 0 };

  /** Who owns a file this transaction creates, when that is known. */
  readonly newFileOwner: { uid: number; gid: number } | null;
  /** The process umask, as seen on the staging directory: modes it leaves alone need no chmod. */
  private readonly umask: number;

  /** The blocks content may still fill before core.min-free-space-* is reached (null: no floor). */
  private readonly space: SpaceReserve | null;

  private constructor(repo: Repo, stagingDir: string, fsync: boolean, newFileOwner: { uid: number; gid: number } | null, umask: number, space: SpaceReserve | null) {
    this.repo = repo;
    this.space = space;
    this.stagingDir = stagingDir;
    this.fsync = fsync;
    this.newFileOwner = newFileOwner;
    this.umask = umask;
    this.index = new ObjectIndex(repo);
  }

  static async begin(repo: Repo, opts: TransactionOptions = {}): Promise<Transaction> {
    // As in libostree, a transaction holds the repository lock shared (until commit or abort), so prune waits for it.
    await repo.lock.push('shared', 'a write transaction');
    try {
      // The free-space floor, measured as the transaction begins (libostree's rule); a bad setting fails here.
      const space = await SpaceReserve.measure(repo.path, readMinFreeSpace(repo.config, path.join(repo.path, 'config')), repo.host.uid === 0);
      const bootId = await readBootId();
      // Staging directories of transactions killed more than core.tmp-expiry-secs ago go first.
      await cleanStaleStaging(repo);
      const { dir, lock } = await allocateStaging(path.join(repo.path, 'tmp'), `staging-${bootId}-`);
      const st = await fsp.stat(dir);
      const umask = 0o777 & ~(st.mode & 0o777);
      await fsp.chmod(dir, 0o775 & ~umask);
      // A setgid directory gives new files its own group; otherwise they get ours.
      const owner = process.geteuid && process.getegid
        ? { uid: process.geteuid(), gid: (st.mode & 0o2000) !== 0 ? st.gid : process.getegid() }
        : null;
      const t = new Transaction(repo, dir, opts.fsync ?? repo.fsyncEnabled, owner, umask, space);
      t.stagingLock = lock;
      return t;
    } catch (e) {
      await recordSpaceAtFailure(e, path.join(repo.path, 'tmp'));
      await repo.lock.pop('shared');
      throw e;
    }
  }

  /** Give back the transaction's share of the repository lock, once; the staging lock goes with its directory. */
  private async unlock(): Promise<void> {
    if (this.unlocked) return;
    this.unlocked = true;
    const lock = this.stagingLock;
    this.stagingLock = null;
    if (lock) {
      // Still ours while we remove it (a killed transaction's lock file stays, unlocked, with its directory).
      if (!this.stopped) await fsp.rm(lock.path, { force: true });
      await lock.close();
    }
    await this.repo.lock.pop('shared');
  }

  /**
   * Count a content object of `size` bytes against the free-space floor
   * (core.min-free-space-*); throws E_NO_SPACE with libostree's message when
   * it would reach it. Writers of content call it before (or as) they write.
   */
  reserveContent(size: number, what: string): void {
    this.space?.take(size, what);
  }

  private key(checksum: string, type: ObjectType): string {
    return `${checksum}.${type}`;
  }

  private stagedName(checksum: string, type: ObjectType): string {
    return path.join(this.stagingDir, `${checksum}.${objectSuffix(type, this.repo.isArchive)}`);
  }

  /** Run `write` once per object unless the repository or this transaction already has it. */
  private async once(checksum: string, type: ObjectType, write: (dest: string) => Promise<void>): Promise<boolean> {
    if (this.done) throw new OstreeTsError(Codes.IO, `The transaction in ${this.stagingDir} is already finished; ${checksum}.${type} was not written.`, { checksum, type });
    const k = this.key(checksum, type);
    const isFile = type === 'file';
    if (isFile) this.counts.contentTotal++;
    else this.counts.metadataTotal++;
    const pending = this.inflight.get(k);
    if (pending) return pending;
    if (this.staged.has(checksum, type)) {
      this.stats.existing++;
      return false;
    }
    const p = (async () => {
      try {
        if (await this.index.has(checksum, type)) {
          this.stats.existing++;
          return false;
        }
        const dest = this.stagedName(checksum, type);
        try {
          await write(dest);
        } catch (e) {
          // A failed write(2) names no file (ENOSPC, EIO): say which object it was.
          if (e instanceof Error && 'syscall' in e && !(e as NodeJS.ErrnoException).path) (e as NodeJS.ErrnoException).path = dest;
          await recordSpaceAtFailure(e, dest);
          throw e;
        }
        this.staged.add(checksum, type);
        this.stats.written++;
        if (isFile) this.counts.contentWritten++;
        else this.counts.metadataWritten++;
        return true;
      } finally {
        // Only what is still being written stays here; the rest is remembered by `staged`.
        this.inflight.delete(k);
      }
    })();
    this.inflight.set(k, p);
    return p;
  }

  /** Write a metadata object; returns its checksum. */
  async writeMetadata(type: ObjectType, bytes: Buffer): Promise<string> {
    const checksum = sha256Hex(bytes);
    await this.once(checksum, type, async (dest) => {
      await writeNewFile(dest, bytes, 0o644);
      this.stats.bytesWritten += bytes.length;
    });
    return checksum;
  }

  /** Write an object whose name is not its hash (commitmeta, tombstone), replacing any previous one. */
  async writeNamedMetadata(type: ObjectType, checksum: string, bytes: Buffer): Promise<void> {
    const dest = this.stagedName(checksum, type);
    await fsp.writeFile(dest, bytes, { mode: 0o644 });
    this.staged.add(checksum, type);
  }

  /**
   * Stage an object whose stored form `place(dest)` creates at `dest` (a hard
   * link to, or copy of, the same object in another repository of this mode).
   * The caller vouches for it. Returns false when the object was here already.
   */
  async writeStoredObject(checksum: string, type: ObjectType, place: (dest: string) => Promise<void>): Promise<boolean> {
    return this.once(checksum, type, place);
  }

  /**
   * Write a content object from its header and content; returns its checksum.
   * Content already in the repository is hashed only, never rewritten.
   */
  async writeContent(header: FileHeader, source: ContentSource): Promise<string> {
    const framed = encodeFileHeader(header);
    if (source.kind === 'file' && source.size >= STREAM_THRESHOLD) return this.writeLargeContent(header, framed, source.path, source.size);
    const data = source.kind === 'buffer' ? source.data : Buffer.alloc(0);
    const checksum = sha256Hex(framed, data);
    await this.once(checksum, 'file', (dest) => this.storeContent(dest, header, { data }));
    return checksum;
  }

  private async writeLargeContent(header: FileHeader, framed: Buffer, src: string, size: number): Promise<string> {
    const h = createHash('sha256');
    h.update(framed);
    let n = 0;
    for await (const chunk of createReadStream(src, { highWaterMark: 256 * 1024 })) {
      h.update(chunk as Buffer);
      n += (chunk as Buffer).length;
    }
    if (n !== size) throw changedWhileReading(src);
    const checksum = h.digest('hex');
    await this.once(checksum, 'file', (dest) => this.storeContent(dest, header, { path: src, size, framed, checksum }));
    return checksum;
  }

  /**
   * Write a regular file's content as it streams by (from an archive, say):
   * hashed and stored in one pass into a spool file, which becomes the object
   * unless the repository already has it. `size` must be the exact length.
   * With `expect`, content that does not hash to `expect.checksum` is
   * refused (`expect.mismatch`) before it is staged.
   */
  async writeContentStream(
    header: FileHeader, size: number, body: AsyncIterable<Buffer>, what: string,
    expect?: { checksum: string; mismatch: (actual: string) => Error },
  ): Promise<string> {
    if (this.done) throw new OstreeTsError(Codes.IO, `The transaction in ${this.stagingDir} is already finished; ${what} was not written.`, { path: what });
    const form = storedForm(this.repo.mode, header, size);
    if (form.kind === 'symlink' || (form.kind === 'file' && form.body)) throw new InternalError(`writeContentStream was given ${what}, which is not a regular file`, { path: what });
    const framed = encodeFileHeader(header);
    const h = createHash('sha256');
    h.update(framed);
    const spool = path.join(this.stagingDir, `spool-${randomSuffix(10)}`);
    const out = createWriteStream(spool, { mode: 0o600 });
    const deflate = form.kind === 'archive' ? createDeflateRaw(this.repo.zlibLevel) : null;
    const done = deflate ? pipeline(deflate, out) : new Promise<void>((resolve, reject) => { out.on('close', resolve); out.on('error', reject); });
    done.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
    const sink: NodeJS.WritableStream = deflate ?? out;
    let n = 0;
    let used = false;
    try {
      if (form.kind === 'archive') out.write(form.prefix);
      for await (const c of body) {
        h.update(c);
        n += c.length;
        if (n > size) throw new OstreeTsError(Codes.IO, `${what}: more than the ${size} bytes of content expected.`, { path: what, expected: size });
        const w = sink as Writable;
        if (w.errored) throw w.errored;
        if (!w.write(c)) await drained(w);
      }
      sink.end();
      await done;
      if (n !== size) throw new OstreeTsError(Codes.IO, `${what}: expected ${size} bytes of content, got ${n}.`, { path: what, expected: size, got: n });
      const checksum = h.digest('hex');
      if (expect && checksum !== expect.checksum) throw expect.mismatch(checksum);
      await this.once(checksum, 'file', async (dest) => {
        this.reserveContent(size, `file ${checksum} (${what})`);
        used = true;
        await this.finishFile(spool, form, false);
        await renameQuick(spool, dest);
        this.stats.bytesWritten += size;
        this.counts.contentBytes += size;
      });
      return checksum;
    } catch (e) {
      (sink as Writable).destroy();
      out.destroy();
      if (e instanceof Error && 'syscall' in e && !(e as NodeJS.ErrnoException).path) (e as NodeJS.ErrnoException).path = spool;
      await recordSpaceAtFailure(e, spool);
      throw e;
    } finally {
      if (!used) await fsp.rm(spool, { force: true });
    }
  }

  /**
   * Stage a `.filez` file the caller has verified (moved, not copied), for an
   * archive repository; a no-op (the file stays) when the object is here already.
   */
  async adoptArchivedContent(checksum: string, filez: string): Promise<void> {
    if (!this.repo.isArchive) throw new InternalError('only an archive repository stores .filez objects as they are', { checksum, mode: this.repo.mode });
    await this.once(checksum, 'file', async (dest) => {
      const st = await fsp.stat(filez);
      this.reserveContent(st.size, `file ${checksum}`);
      await fsp.chmod(filez, ARCHIVE_OBJECT_MODE);
      await renameQuick(filez, dest);
      this.stats.bytesWritten += st.size;
    });
  }

  /** Whether the repository (as its index last listed it) or this transaction has the object. */
  async hasObject(checksum: string, type: ObjectType): Promise<boolean> {
    return this.staged.has(checksum, type) || this.index.has(checksum, type);
  }

  /** Where an object staged by this transaction lives until commit (for writers that create it themselves). */
  stagedPath(checksum: string, type: ObjectType): string {
    return this.stagedName(checksum, type);
  }

  /**
   * Take into the transaction an object the caller created at
   * `stagedPath(checksum, type)`, already checked (StagingWriter).
   */
  adoptStaged(checksum: string, type: ObjectType, bytes: number): void {
    if (this.done) throw new OstreeTsError(Codes.IO, `The transaction in ${this.stagingDir} is already finished; ${checksum}.${type} was not written.`, { checksum, type });
    if (this.staged.has(checksum, type)) return;
    // Written already (by the staging worker): counted now, as libostree counts a streamed object once it is complete.
    if (type === 'file') this.reserveContent(bytes, `file ${checksum}`);
    this.staged.add(checksum, type);
    this.stats.written++;
    this.stats.bytesWritten += bytes;
  }

  /**
   * Count a content object a worker hashed for a commit (StagingWriter's
   * `commitFile`): staged by it (`written`, `bytes` in its stored form), or
   * found in the repository or this transaction.
   */
  adoptContent(checksum: string, written: boolean, size: number, bytes: number): void {
    this.counts.contentTotal++;
    if (!written) {
      this.stats.existing++;
      return;
    }
    if (this.staged.has(checksum, 'file')) return;
    this.adoptStaged(checksum, 'file', bytes);
    this.counts.contentWritten++;
    this.counts.contentBytes += size;
  }

  /** The file of an object this transaction staged, or else of the one in the repository. */
  objectFile(checksum: string, type: ObjectType): string {
    return this.staged.has(checksum, type) ? this.stagedName(checksum, type) : this.repo.objectPath(checksum, type);
  }

  /** A dirtree written by this transaction or already in the repository. */
  async loadDirTree(checksum: string): Promise<DirTree> {
    if (this.staged.has(checksum, 'dirtree')) {
      return decodeDirTree(await fsp.readFile(this.stagedName(checksum, 'dirtree')), checksum);
    }
    return this.repo.loadDirTree(checksum);
  }

  /** Write a content object at `dest` in this repository's stored form (see stored-form.ts). */
  private async storeContent(
    dest: string,
    header: FileHeader,
    content: { data: Buffer } | { path: string; size: number; framed: Buffer; checksum: string },
  ): Promise<void> {
    const inMemory = 'data' in content;
    const size = inMemory ? content.data.length : content.size;
    this.reserveContent(size, inMemory ? `a file of ${size} bytes` : content.path);
    this.counts.contentBytes += size;
    const form = storedForm(this.repo.mode, header, size);
    if (form.kind === 'symlink') {
      await fsp.symlink(form.target, dest);
      if (form.owner) await fsp.lchown(dest, form.owner.uid, form.owner.gid);
      for (const x of form.xattrs) await writeXattr(dest, x.name, x.value);
      await fsp.lutimes(dest, 0, 0);
      return;
    }
    // A new file already belongs to us: change the owner only when it must differ.
    const chown = form.kind === 'file' && this.needsChown(form.owner);
    // Create the file with its final mode when nothing would undo it (umask, chown
    // clearing setuid bits) and we can still write the xattrs; otherwise chmod last.
    const direct = !chown && (form.mode & 0o7000) === 0 && (form.mode & this.umask) === 0 && (form.mode & 0o200) !== 0;
    const createMode = direct ? form.mode : 0o600;
    if (form.kind === 'file' && form.body) {
      await writeNewFile(dest, form.body, createMode);
      this.stats.bytesWritten += form.body.length;
    } else if (inMemory) {
      const bytes = form.kind === 'archive'
        ? Buffer.concat([form.prefix, form.deflate ? await deflateRaw(content.data, this.repo.zlibLevel) : Buffer.alloc(0)])
        : content.data;
      await writeNewFile(dest, bytes, createMode);
      this.stats.bytesWritten += bytes.length;
    } else if (form.kind === 'archive') {
      await this.streamInto(dest, form.prefix, content, createDeflateRaw(this.repo.zlibLevel), createMode);
    } else {
      await this.streamInto(dest, null, content, null, createMode);
    }
    await this.finishFile(dest, form, direct);
  }

  private needsChown(owner: Owner | null): owner is Owner {
    const o = this.newFileOwner;
    return owner !== null && (!o || owner.uid !== o.uid || owner.gid !== o.gid);
  }

  /** Owner, xattrs, mode and times of a file just written in its stored form (`direct`: created with its final mode). */
  private async finishFile(dest: string, form: Exclude<StoredForm, { kind: 'symlink' }>, direct: boolean): Promise<void> {
    if (form.kind === 'file') {
      if (this.needsChown(form.owner)) await chownForBare(dest, form.owner);
      for (const x of form.xattrs) await writeXattr(dest, x.name, x.value);
    }
    if (!direct) await fsp.chmod(dest, form.mode);
    if (form.kind === 'file') await fsp.utimes(dest, 0, 0);
  }

  /** Copy (optionally through a compressor) a large source into `dest`, re-checking its hash. */
  private async streamInto(
    dest: string,
    prefix: Buffer | null,
    src: { path: string; size: number; framed: Buffer; checksum: string },
    transform: NodeJS.ReadWriteStream | null,
    fileMode: number,
  ): Promise<void> {
    const h = createHash('sha256');
    h.update(src.framed);
    let n = 0;
    const out = createWriteStream(dest, { mode: fileMode });
    if (prefix) out.write(prefix);
    const tap = new Writable({ write: (c: Buffer, _e, cb) => { h.update(c); n += c.length; cb(); } });
    const input = createReadStream(src.path, { highWaterMark: 256 * 1024 });
    input.on('data', (c) => tap.write(c));
    if (transform) await pipeline(input, transform, out);
    else await pipeline(input, out);
    if (n !== src.size || h.digest('hex') !== src.checksum) throw changedWhileReading(src.path);
    this.stats.bytesWritten += src.size;
  }

  /** Make every staged object durable and visible; commits go last. */
  async commit(opts: TransactionCommitOptions = {}): Promise<void> {
    if (this.done) return;
    try {
      await this.commitStaged(opts);
    } finally {
      await this.unlock();
    }
  }

  private async commitStaged(opts: TransactionCommitOptions): Promise<void> {
    await Promise.all(this.inflight.values());
    if (this.fsync && this.staged.size > 0) await syncFilesystem(this.stagingDir);
    const objectsDir = path.join(this.repo.path, 'objects');
    const fanouts = new Set<string>(this.staged.size ? await fsp.readdir(objectsDir).catch(() => []) : []);
    const rank = (type: ObjectType): number => (type === 'commit' ? 2 : type === 'commitmeta' ? 1 : 0);
    let commits = false;
    for (const o of this.staged.entries()) if (rank(o.type) > 0) commits = true;
    for (const r of [0, 1, 2]) {
      if (r === 1 && commits) this.stopAt('before-commit-rename');
      // In chunks: memory stays flat however many objects there are.
      let chunk: Array<[string, string]> = [];
      let moved = 0;
      const flush = async (): Promise<void> => {
        if (opts.rename) await opts.rename(chunk);
        else await mapLimit(chunk, 16, ([from, to]) => renameQuick(from, to));
        moved += chunk.length;
        chunk = [];
      };
      for (const { checksum, type } of this.staged.entries()) {
        if (rank(type) !== r) continue;
        const fan = checksum.slice(0, 2);
        if (!fanouts.has(fan)) {
          await mkdirp(path.join(objectsDir, fan), 0o775);
          fanouts.add(fan);
        }
        chunk.push([this.stagedName(checksum, type), path.join(objectsDir, objectRelPath(checksum, type, this.repo.isArchive))]);
        if (chunk.length >= 1024) await flush();
      }
      if (chunk.length) await flush();
      // Objects durable and visible before the commits that need them.
      if (r === 0 && moved && commits && this.fsync) await syncFilesystem(objectsDir);
    }
    if (this.fsync && this.staged.size) await syncFilesystem(objectsDir);
    this.done = true;
    await fsp.rm(this.stagingDir, { recursive: true, force: true });
  }

  /**
   * Stop at a fault point when the handle asks for it: the transaction then
   * stays exactly as a killed process leaves it (its staging directory too),
   * and abort() no longer cleans up.
   */
  private stopAt(point: FaultPoint): void {
    try {
      this.repo.stopAt(point);
    } catch (e) {
      this.done = true;
      this.stopped = true;
      throw e;
    }
  }

  /** Drop everything staged. Nothing becomes visible. */
  async abort(): Promise<void> {
    if (this.stopped) return;
    this.done = true;
    try {
      await Promise.allSettled(this.inflight.values());
      await fsp.rm(this.stagingDir, { recursive: true, force: true });
    } finally {
      await this.unlock();
    }
  }
}

async function chownForBare(dest: string, owner: Owner): Promise<void> {
  try {
    await fsp.chown(dest, owner.uid, owner.gid);
  } catch (e) {
    if (isErrno(e, 'EPERM')) {
      throw new OstreeTsError(Codes.UNSUPPORTED_MODE, `A bare repository stores real owners (here ${owner.uid}:${owner.gid}), which needs root. Run as root, or use a bare-user repository (ostree-ts init --mode=bare-user).`, { uid: owner.uid, gid: owner.gid }, { cause: e });
    }
    throw e;
  }
}

const TYPE_BITS: ReadonlyArray<[ObjectType, number]> = [['file', 1], ['dirtree', 2], ['dirmeta', 4], ['commit', 8], ['commitmeta', 16], ['tombstone-commit', 32]];
const BIT = new Map(TYPE_BITS);

/**
 * Which objects a transaction staged: a checksum and a bit per type, so that
 * a commit of a hundred thousand files holds each checksum once, as the
 * string it came as, and no key built from it.
 */
class StagedObjects {
  private readonly byChecksum = new Map<string, number>();
  size = 0;

  has(checksum: string, type: ObjectType): boolean {
    return ((this.byChecksum.get(checksum) ?? 0) & (BIT.get(type) as number)) !== 0;
  }

  add(checksum: string, type: ObjectType): void {
    const bits = this.byChecksum.get(checksum) ?? 0;
    const bit = BIT.get(type) as number;
    if (bits & bit) return;
    this.byChecksum.set(checksum, bits | bit);
    this.size++;
  }

  *entries(): Generator<{ checksum: string; type: ObjectType }> {
    for (const [checksum, bits] of this.byChecksum) for (const [type, bit] of TYPE_BITS) if (bits & bit) yield { checksum, type };
  }
}

function changedWhileReading(p: string): OstreeTsError {
  return new OstreeTsError(Codes.IO, `${p} changed while it was being committed. Commit again once nothing writes to it.`, { path: p });
}

/**
 * A staging directory `tmp/PREFIXXXXXXX` of our own, locked as libostree
 * locks its own: an exclusive OFD lock on `tmp/PREFIXXXXXXX-lock`, outside the
 * directory, held until the directory is gone. libostree reuses (and at its
 * commit removes) any staging directory of this boot whose lock it can take,
 * so an unlocked one would be taken from under us by a concurrent `ostree`.
 */
async function allocateStaging(tmp: string, prefix: string): Promise<{ dir: string; lock: LockFile }> {
  await mkdirp(tmp, 0o777);
  for (;;) {
    const dir = path.join(tmp, `${prefix}${randomSuffix(6)}`);
    try {
      await fsp.mkdir(dir, { mode: 0o777 });
    } catch (e) {
      if (isErrno(e, 'EEXIST')) continue;
      throw e;
    }
    const lock = await LockFile.open(`${dir}-lock`);
    // Someone may have found the new directory and locked it first: then it is theirs, and we make another.
    if (lock.tryLock('exclusive') && (await exists(dir))) return { dir, lock };
    await lock.close();
  }
}

/** Remove staging directories left by transactions older than `core.tmp-expiry-secs`, unless their lock is held. */
export async function cleanStaleStaging(repo: Repo, now = repo.host.now()): Promise<number> {
  const tmp = path.join(repo.path, 'tmp');
  const expiry = Number(repo.config.get('core', 'tmp-expiry-secs') ?? 86400) * 1000;
  let removed = 0;
  let names: string[];
  try {
    names = await fsp.readdir(tmp);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return 0;
    throw e;
  }
  for (const n of names) {
    if (!n.startsWith('staging-')) continue;
    // A lock file goes with its directory; alone (its transaction ended between the two removals) it goes by itself.
    const orphan = n.endsWith('-lock');
    if (orphan && names.includes(n.slice(0, -'-lock'.length))) continue;
    const p = path.join(tmp, orphan ? n.slice(0, -'-lock'.length) : n);
    const st = await fsp.lstat(orphan ? `${p}-lock` : p).catch(() => null);
    if (!st || now - st.mtimeMs <= expiry) continue;
    // A transaction still running (ours or libostree's) holds the lock beside its directory.
    const lock = await LockFile.open(`${p}-lock`);
    try {
      if (!lock.tryLock('exclusive')) continue;
      if (!orphan) {
        await fsp.rm(p, { recursive: true, force: true });
        removed++;
      }
      await fsp.rm(`${p}-lock`, { force: true });
    } finally {
      await lock.close();
    }
  }
  return removed;
}
