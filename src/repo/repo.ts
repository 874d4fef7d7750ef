/**
 * The repository handle: configuration, object paths, and reading objects in
 * every mode (archive, bare, bare-user, bare-user-only).
 */
import { Transform, type Readable } from 'node:stream';
import { Codes, OstreeTsError } from '../errors/index.js';
import { KeyFile } from '../format/keyfile.js';
import { isChecksum } from '../format/checksum.js';
import type { VarDict } from '../format/gvariant.js';
import {
  decodeArchiveHeader, decodeCommit, decodeDirMeta, decodeDirTree, decodeMetadata, decodeUserMeta,
  canonicalXattrs, objectRelPath, S_IFLNK, S_IFMT, S_IFREG,
  type Commit, type DirMeta, type DirTree, type FileHeader, type ObjectType,
} from '../format/objects.js';
// Only the I/O this handle needs (not the whole io layer): commands that just read stay quick to start.
import { fsp, path, createReadStream, isErrno, atomicWriteFile, exists, readSmallFile, readFileSync, statSync } from '../io/fs.js';
import { nodeRepoHost, type RepoHost } from '../io/host-env.js';
import { FaultPointReached, type FaultPoint } from './fault-points.js';
import { RepoLock, type RepoLockMode } from './repo-lock.js';
import { noUserMetaError, storedTypeError } from './stored-form.js';

// Loaded with the first content object read (or the first partial-commit check), not with every handle:
// `rev-parse`, `refs` and `config` never need them.
let compress: Promise<typeof import('../io/compress.js')> | undefined;
let xattr: Promise<typeof import('../io/xattr.js')> | undefined;
const loadCompress = (): Promise<typeof import('../io/compress.js')> => (compress ??= import('../io/compress.js'));
const loadXattr = (): Promise<typeof import('../io/xattr.js')> => (xattr ??= import('../io/xattr.js'));

export type RepoMode = 'archive' | 'bare' | 'bare-user' | 'bare-user-only';

export const REPO_MODES: readonly RepoMode[] = ['archive', 'bare', 'bare-user', 'bare-user-only'];

/** Metadata objects larger than this are refused (libostree's limit). */
export const MAX_METADATA_SIZE = 128 * 1024 * 1024;

/** A content object as stored: its header and a way to read its content. */
export interface StoredFile {
  checksum: string;
  header: FileHeader;
  /** Uncompressed content size (0 for symlinks). */
  size: number;
  /** For bare modes: the object file, usable as a hardlink or copy source. */
  objectPath: string;
  /** A stream of the content (regular files only). */
  open(): Readable;
  /** The whole content (regular files only). */
  read(): Promise<Buffer>;
}

export function parseMode(s: string): RepoMode {
  if (s === 'archive-z2' || s === 'archive') return 'archive';
  if ((REPO_MODES as readonly string[]).includes(s)) return s as RepoMode;
  throw new OstreeTsError(Codes.UNSUPPORTED_MODE, `Unsupported repository mode '${s}'. Use one of: archive, bare, bare-user, bare-user-only.`, { mode: s });
}

export function modeConfigName(mode: RepoMode): string {
  return mode === 'archive' ? 'archive-z2' : mode;
}

/** How a repository handle behaves, beyond what its config says. */
export interface RepoHandleOptions {
  /** Fault points at which writes through this handle stop (tests; see fault-points.ts). */
  faults?: Iterable<FaultPoint>;
  /** The clock and the user this handle works with; default this process on this machine. */
  host?: RepoHost;
}

export class Repo {
  readonly path: string;
  readonly mode: RepoMode;
  config: KeyFile;
  /** The clock and the user: commit times, ref times and ownership decisions come from here. */
  readonly host: RepoHost;
  /** The fault points asked for: where writes through this handle stop. */
  readonly faults: ReadonlySet<FaultPoint>;
  /** libostree's repository lock (REPO/.lock), as this handle holds it. */
  readonly lock: RepoLock;

  private constructor(repoPath: string, config: KeyFile, mode: RepoMode, opts: RepoHandleOptions) {
    this.path = repoPath;
    this.config = config;
    this.mode = mode;
    this.faults = new Set(opts.faults ?? []);
    this.host = opts.host ?? nodeRepoHost();
    this.lock = new RepoLock(repoPath, () => this.config);
  }

  /**
   * Run `fn` holding the repository lock in `mode`: shared to write objects
   * and move refs, exclusive to delete objects. Released however `fn` ends;
   * `what` names the operation should the lock not be had in time (E_LOCKED).
   */
  async withLock<T>(mode: RepoLockMode, what: string, fn: () => Promise<T>): Promise<T> {
    await this.lock.push(mode, what);
    try {
      return await fn();
    } finally {
      await this.lock.pop(mode);
    }
  }

  /** Stop here, as an interruption would, when fault point `point` was asked for. */
  stopAt(point: FaultPoint): void {
    if (this.faults.has(point)) throw new FaultPointReached(point);
  }

  static async open(repoPath: string, opts: RepoHandleOptions = {}): Promise<Repo> {
    const abs = path.resolve(repoPath);
    let text: string;
    try {
      if (!(await exists(path.join(abs, 'objects')))) throw Object.assign(new Error('no objects'), { code: 'ENOENT' });
      text = await fsp.readFile(path.join(abs, 'config'), 'utf8');
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) {
        throw new OstreeTsError(Codes.REPO_NOT_FOUND, `No OSTree repository at ${abs}. Create one with 'ostree-ts init --repo=${repoPath} --mode=archive', or name an existing one.`, { path: abs, hint: { option: 'repo' } });
      }
      throw e;
    }
    const config = KeyFile.parse(text, path.join(abs, 'config'));
    const version = config.get('core', 'repo_version');
    if (version !== '1') {
      throw new OstreeTsError(Codes.REPO_CONFIG, `Unsupported repo_version '${version ?? ''}' in ${abs}/config; only 1 is supported.`, { path: abs });
    }
    if (config.get('core', 'archive') === 'true') {
      throw new OstreeTsError(Codes.REPO_CONFIG, `The repository at ${abs} uses the old "archive" v1 format, which is no longer supported. Re-create it in archive mode.`, { path: abs });
    }
    return new Repo(abs, config, parseMode(config.get('core', 'mode') ?? 'bare'), opts);
  }

  /** Create a repository (like `ostree init`); an existing one with the same mode is left as it is. */
  static async init(repoPath: string, mode: RepoMode, opts: { collectionId?: string } & RepoHandleOptions = {}): Promise<Repo> {
    const abs = path.resolve(repoPath);
    if (await exists(path.join(abs, 'objects'))) {
      const existing = await Repo.open(abs, opts);
      if (existing.mode !== mode) {
        throw new OstreeTsError(Codes.REPO_EXISTS, `A repository in mode ${existing.mode} already exists at ${abs}. Use another path, or remove it first.`, { path: abs, mode: existing.mode });
      }
      return existing;
    }
    await fsp.mkdir(abs, { recursive: true });
    const config = new KeyFile();
    config.set('core', 'repo_version', '1');
    config.set('core', 'mode', modeConfigName(mode));
    if (opts.collectionId) config.set('core', 'collection-id', opts.collectionId);
    await atomicWriteFile(path.join(abs, 'config'), config.render());
    for (const d of ['tmp', 'tmp/cache', 'extensions', 'state', 'refs', 'refs/heads', 'refs/mirrors', 'refs/remotes', 'objects']) {
      await fsp.mkdir(path.join(abs, d), { recursive: true, mode: 0o775 });
    }
    return new Repo(abs, config, mode, opts);
  }

  get isArchive(): boolean {
    return this.mode === 'archive';
  }

  /** `core.fsync` (default true). */
  get fsyncEnabled(): boolean {
    return this.config.getBool('core', 'fsync', true);
  }

  get zlibLevel(): number {
    const v = Number(this.config.get('archive', 'zlib-level') ?? '6');
    return Number.isInteger(v) && v >= 1 && v <= 9 ? v : 6;
  }

  get disableXattrs(): boolean {
    return this.config.getBool('core', 'disable-xattrs', false);
  }

  async saveConfig(): Promise<void> {
    await atomicWriteFile(path.join(this.path, 'config'), this.config.render(), { fsync: this.fsyncEnabled });
  }

  objectPath(checksum: string, type: ObjectType): string {
    return path.join(this.path, 'objects', objectRelPath(checksum, type, this.isArchive));
  }

  async hasObject(checksum: string, type: ObjectType): Promise<boolean> {
    return exists(this.objectPath(checksum, type));
  }

  private missing(checksum: string, type: ObjectType, cause?: unknown): OstreeTsError {
    return new OstreeTsError(Codes.OBJECT_MISSING, `Object ${checksum}.${type} is missing from ${this.path}. Pull or commit it again, or run 'ostree-ts fsck' to check the repository.`, { checksum, type }, { cause });
  }

  /** The stored bytes of a metadata object (dirtree, dirmeta, commit, commitmeta, tombstone). */
  async readMetadataBytes(type: ObjectType, checksum: string): Promise<Buffer> {
    const p = this.objectPath(checksum, type);
    try {
      const st = await fsp.stat(p);
      if (st.size > MAX_METADATA_SIZE) {
        throw new OstreeTsError(Codes.OBJECT_INVALID, `Object ${checksum}.${type} is ${st.size} bytes, over the ${MAX_METADATA_SIZE}-byte limit for metadata.`, { checksum, type });
      }
      const data = await readSmallFile(p);
      if (data.length > MAX_METADATA_SIZE) {
        throw new OstreeTsError(Codes.OBJECT_INVALID, `Object ${checksum}.${type} is ${data.length} bytes, over the ${MAX_METADATA_SIZE}-byte limit for metadata.`, { checksum, type });
      }
      return data;
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) throw this.missing(checksum, type, e);
      throw e;
    }
  }

  /** The same, with blocking calls: for walks over thousands of small objects, where each thread-pool round trip costs more than the read. */
  readMetadataBytesSync(type: ObjectType, checksum: string): Buffer {
    const p = this.objectPath(checksum, type);
    try {
      const size = statSync(p).size;
      if (size > MAX_METADATA_SIZE) {
        throw new OstreeTsError(Codes.OBJECT_INVALID, `Object ${checksum}.${type} is ${size} bytes, over the ${MAX_METADATA_SIZE}-byte limit for metadata.`, { checksum, type });
      }
      return readFileSync(p);
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) throw this.missing(checksum, type, e);
      throw e;
    }
  }

  loadDirTreeSync(checksum: string): DirTree {
    const b = this.readMetadataBytesSync('dirtree', checksum);
    return this.wrapInvalid(checksum, 'dirtree', () => decodeDirTree(b, checksum));
  }

  loadDirMetaSync(checksum: string): DirMeta {
    const b = this.readMetadataBytesSync('dirmeta', checksum);
    return this.wrapInvalid(checksum, 'dirmeta', () => decodeDirMeta(b, `dirmeta ${checksum}`));
  }

  private wrapInvalid<T>(checksum: string, type: ObjectType, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof OstreeTsError && (e.code === Codes.GVARIANT_INVALID || e.code === Codes.OBJECT_INVALID)) {
        throw new OstreeTsError(Codes.OBJECT_CORRUPT, `Object ${checksum}.${type} is corrupt: ${e.message} Run 'ostree-ts fsck --delete' and pull or commit it again.`, { checksum, type, reason: e.message }, { cause: e });
      }
      throw e;
    }
  }

  async loadCommit(checksum: string): Promise<Commit> {
    const b = await this.readMetadataBytes('commit', checksum);
    return this.wrapInvalid(checksum, 'commit', () => decodeCommit(b, checksum));
  }

  async loadDirTree(checksum: string): Promise<DirTree> {
    const b = await this.readMetadataBytes('dirtree', checksum);
    return this.wrapInvalid(checksum, 'dirtree', () => decodeDirTree(b, checksum));
  }

  async loadDirMeta(checksum: string): Promise<DirMeta> {
    const b = await this.readMetadataBytes('dirmeta', checksum);
    return this.wrapInvalid(checksum, 'dirmeta', () => decodeDirMeta(b, `dirmeta ${checksum}`));
  }

  /**
   * The stored bytes of a commit's detached metadata (`.commitmeta`), or null
   * when it has none; refused over the metadata size limit, as every
   * metadata object is. Every reader of detached metadata goes through here.
   */
  async readCommitMetaBytes(checksum: string): Promise<Buffer | null> {
    try {
      return await this.readMetadataBytes('commitmeta', checksum);
    } catch (e) {
      if (e instanceof OstreeTsError && e.code === Codes.OBJECT_MISSING) return null;
      throw e;
    }
  }

  /** Detached metadata of a commit, or null when it has none. */
  async loadCommitMeta(checksum: string): Promise<VarDict | null> {
    const b = await this.readCommitMetaBytes(checksum);
    if (!b) return null;
    return this.wrapInvalid(checksum, 'commitmeta', () => decodeMetadata(b));
  }

  /** Is the commit's tree known to be incomplete (a partial pull)? */
  async isCommitPartial(checksum: string): Promise<boolean> {
    const { isCommitPartial } = await import('./commit-partial.js');
    return isCommitPartial(this, checksum);
  }

  /** Load a content object's header and open its content. */
  async loadFile(checksum: string): Promise<StoredFile> {
    const p = this.objectPath(checksum, 'file');
    try {
      switch (this.mode) {
        case 'archive':
          return await this.loadArchiveFile(checksum, p);
        case 'bare':
          return await this.loadBareFile(checksum, p);
        case 'bare-user':
          return await this.loadBareUserFile(checksum, p);
        case 'bare-user-only':
          return await this.loadBareUserOnlyFile(checksum, p);
      }
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) throw this.missing(checksum, 'file', e);
      if (e instanceof OstreeTsError && (e.code === Codes.GVARIANT_INVALID || e.code === Codes.OBJECT_INVALID)) {
        throw new OstreeTsError(Codes.OBJECT_CORRUPT, `Object ${checksum}.file is corrupt: ${e.message} Run 'ostree-ts fsck --delete' and pull or commit it again.`, { checksum, type: 'file', reason: e.message }, { cause: e });
      }
      throw e;
    }
  }

  private async loadArchiveFile(checksum: string, p: string): Promise<StoredFile> {
    const [data, { createInflateRaw, inflateRaw }] = await Promise.all([readSmallFile(p), loadCompress()]);
    const { header, size, length } = decodeArchiveHeader(data, `file ${checksum}`);
    const body = data.subarray(length);
    const isReg = (header.mode & S_IFMT) === S_IFREG;
    const expected = Number(size);
    const read = async (): Promise<Buffer> => {
      if (!isReg) return Buffer.alloc(0);
      let out: Buffer;
      try {
        out = await inflateRaw(body, expected + 1);
      } catch (e) {
        throw corrupt(`its compressed content cannot be inflated (${(e as Error).message})`, e);
      }
      if (out.length !== expected) throw corrupt(`it inflates to ${out.length} bytes, but its header says ${expected}`);
      return out;
    };
    function corrupt(why: string, cause?: unknown): OstreeTsError {
      return new OstreeTsError(Codes.OBJECT_CORRUPT,
        `Object ${checksum}.file is corrupt: ${why}. Run 'ostree-ts fsck --delete' and pull or commit it again.`, { checksum, type: 'file', reason: why }, { cause });
    }
    const open = (): Readable => {
      // Inflate, count, and turn zlib failures into a coded error naming the object.
      let n = 0;
      const check = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          n += chunk.length;
          if (n > expected) cb(corrupt(`it inflates to more than the ${expected} bytes its header says`));
          else cb(null, chunk);
        },
        flush(cb) {
          cb(n === expected ? null : corrupt(`it inflates to ${n} bytes, but its header says ${expected}`));
        },
      });
      const inflate = createInflateRaw();
      inflate.on('error', (e) => check.destroy(corrupt(`its compressed content cannot be inflated (${e.message})`, e)));
      inflate.pipe(check);
      inflate.end(body);
      return check;
    };
    return { checksum, header, size: isReg ? expected : 0, objectPath: p, read, open };
  }

  private regularAccessors(p: string): Pick<StoredFile, 'open' | 'read'> {
    return { open: () => createReadStream(p), read: () => fsp.readFile(p) };
  }

  private async loadBareFile(checksum: string, p: string): Promise<StoredFile> {
    const st = await fsp.lstat(p);
    const xattrs = this.disableXattrs ? [] : canonicalXattrs(await (await loadXattr()).readXattrs(p));
    const isLink = st.isSymbolicLink();
    const header: FileHeader = {
      uid: st.uid, gid: st.gid, mode: st.mode, rdev: 0,
      symlinkTarget: isLink ? await fsp.readlink(p) : '',
      xattrs,
    };
    this.checkStoredType(checksum, st.isFile() || isLink);
    return { checksum, header, size: isLink ? 0 : st.size, objectPath: p, ...this.regularAccessors(p) };
  }

  private async loadBareUserFile(checksum: string, p: string): Promise<StoredFile> {
    const st = await fsp.lstat(p);
    this.checkStoredType(checksum, st.isFile());
    const raw = await (await loadXattr()).readXattr(p, 'user.ostreemeta');
    if (!raw) throw noUserMetaError(checksum);
    const meta = decodeUserMeta(raw, `user.ostreemeta of ${checksum}`);
    const isLink = (meta.mode & S_IFMT) === S_IFLNK;
    let target = '';
    if (isLink) {
      const body = await fsp.readFile(p);
      const nul = body.indexOf(0);
      target = body.subarray(0, nul < 0 ? body.length : nul).toString('utf8');
    }
    const header: FileHeader = { uid: meta.uid, gid: meta.gid, mode: meta.mode, rdev: 0, symlinkTarget: target, xattrs: meta.xattrs };
    return { checksum, header, size: isLink ? 0 : st.size, objectPath: p, ...this.regularAccessors(p) };
  }

  private async loadBareUserOnlyFile(checksum: string, p: string): Promise<StoredFile> {
    const st = await fsp.lstat(p);
    const isLink = st.isSymbolicLink();
    this.checkStoredType(checksum, st.isFile() || isLink);
    const header: FileHeader = {
      uid: 0, gid: 0, mode: isLink ? S_IFLNK | 0o777 : st.mode, rdev: 0,
      symlinkTarget: isLink ? await fsp.readlink(p) : '', xattrs: [],
    };
    return { checksum, header, size: isLink ? 0 : st.size, objectPath: p, ...this.regularAccessors(p) };
  }

  private checkStoredType(checksum: string, ok: boolean): void {
    if (!ok) throw storedTypeError(checksum);
  }

  /** Every loose object in the repository. */
  async *listObjects(): AsyncGenerator<{ checksum: string; type: ObjectType; path: string }> {
    const objects = path.join(this.path, 'objects');
    const fanouts = (await fsp.readdir(objects)).filter((d) => /^[0-9a-f]{2}$/.test(d)).sort();
    // Keep a window of directory listings in flight; yield them in order.
    const WINDOW = 16;
    const listings: Array<Promise<string[]>> = [];
    const list = (i: number): void => {
      if (i < fanouts.length) {
        const p = fsp.readdir(path.join(objects, fanouts[i]));
        p.catch(() => undefined);
        listings[i] = p;
      }
    };
    for (let i = 0; i < WINDOW; i++) list(i);
    for (let f = 0; f < fanouts.length; f++) {
      const dir = fanouts[f];
      const names = (await listings[f]).sort();
      delete listings[f];
      list(f + WINDOW);
      for (const name of names) {
        const dot = name.indexOf('.');
        if (dot < 0) continue;
        const checksum = dir + name.slice(0, dot);
        let suffix = name.slice(dot + 1);
        if (!isChecksum(checksum)) continue;
        if (suffix === 'filez' && this.isArchive) suffix = 'file';
        if (!['file', 'dirtree', 'dirmeta', 'commit', 'commitmeta', 'tombstone-commit'].includes(suffix)) continue;
        yield { checksum, type: suffix as ObjectType, path: path.join(objects, dir, name) };
      }
    }
  }
}
