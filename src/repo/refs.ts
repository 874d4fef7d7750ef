/** Refs: files under refs/heads and refs/remotes holding a commit checksum. */
import { Codes, OstreeTsError } from '../errors/index.js';
import { isChecksum } from '../format/checksum.js';
import { isValidCollectionId, parseRefSpec, validateCollectionId, validateRefName, isValidRemoteName, type CollectionRef } from '../format/refs.js';
import { atomicWriteFile, fsp, isErrno, mkdirp, path } from '../io/fs.js';
import type { Repo } from './repo.js';

export interface RefEntry {
  /** `REF` for local refs, `REMOTE:REF` for remote-tracking refs. */
  refspec: string;
  remote: string | null;
  ref: string;
  checksum: string;
}

function refDir(repo: Repo, remote: string | null): string {
  return remote ? path.join(repo.path, 'refs', 'remotes', remote) : path.join(repo.path, 'refs', 'heads');
}

async function readRefFile(file: string, name: string): Promise<string | null> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    // A name too long for the filesystem cannot be a ref there.
    if (isErrno(e, 'ENOENT', 'ENOTDIR', 'EISDIR', 'ENAMETOOLONG')) return null;
    throw e;
  }
  const csum = text.trim();
  if (!isChecksum(csum)) {
    throw new OstreeTsError(Codes.INVALID_REF, `Ref '${name}' (${file}) does not hold a valid checksum. Point it at a commit with 'ostree-ts refs --create=${name} COMMIT' or delete it.`, { ref: name, file });
  }
  return csum;
}

async function walk(dir: string, prefix: string, out: Array<[string, string]>): Promise<void> {
  let entries;
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'ENOTDIR')) return;
    throw e;
  }
  for (const e of entries) {
    // A leading dot: the temporary file of an interrupted write, never a ref (ostree skips them too).
    if (e.name.startsWith('.')) continue;
    const full = path.join(dir, e.name);
    const name = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) await walk(full, name, out);
    else if (e.isFile() || e.isSymbolicLink()) out.push([name, full]);
  }
}

export interface ListRefsOptions {
  remotes?: boolean;
  local?: boolean;
  /**
   * A ref file that holds no checksum (garbage, a torn write): given here, it
   * is reported and left out; without it, the listing fails naming the ref.
   * Whatever must not lose a commit (prune, fsck) lists strictly.
   */
  onInvalid?: (e: OstreeTsError) => void;
}

async function readListed(file: string, name: string, onInvalid: ListRefsOptions['onInvalid']): Promise<string | null> {
  try {
    return await readRefFile(file, name);
  } catch (e) {
    if (onInvalid && e instanceof OstreeTsError && e.code === Codes.INVALID_REF) {
      onInvalid(e);
      return null;
    }
    throw e;
  }
}

const byName = (a: [string, string], b: [string, string]): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/** All refs, local first then remote, each sorted by name. */
export async function listRefs(repo: Repo, opts: ListRefsOptions = {}): Promise<RefEntry[]> {
  const out: RefEntry[] = [];
  if (opts.local !== false) {
    const files: Array<[string, string]> = [];
    await walk(refDir(repo, null), '', files);
    for (const [name, file] of files.sort(byName)) {
      const c = await readListed(file, name, opts.onInvalid);
      if (c) out.push({ refspec: name, remote: null, ref: name, checksum: c });
    }
  }
  if (opts.remotes !== false) {
    const files: Array<[string, string]> = [];
    await walk(path.join(repo.path, 'refs', 'remotes'), '', files);
    for (const [name, file] of files.sort(byName)) {
      const slash = name.indexOf('/');
      if (slash < 0) continue;
      const remote = name.slice(0, slash);
      const ref = name.slice(slash + 1);
      const c = await readListed(file, `${remote}:${ref}`, opts.onInvalid);
      if (c) out.push({ refspec: `${remote}:${ref}`, remote, ref, checksum: c });
    }
  }
  return out;
}

/** The checksum a ref names, or null. `REMOTE:REF` reads a remote-tracking ref. */
export async function readRef(repo: Repo, refspec: string): Promise<string | null> {
  const { remote, ref } = parseRefSpec(refspec);
  if (remote) return readRefFile(path.join(refDir(repo, remote), ref), refspec);
  const local = await readRefFile(path.join(refDir(repo, null), ref), ref);
  if (local) return local;
  // OSTree also accepts REMOTE/REF for a remote-tracking ref.
  return readRefFile(path.join(repo.path, 'refs', 'remotes', ref), ref);
}

/** Point a ref at a commit (or delete it with null). Written atomically, last. */
export async function writeRef(repo: Repo, refspec: string, checksum: string | null): Promise<void> {
  const { remote, ref } = parseRefSpec(refspec);
  validateRefName(ref);
  if (remote && !isValidRemoteName(remote)) throw new OstreeTsError(Codes.INVALID_REF, `Invalid remote name '${remote}'.`, { remote });
  const file = path.join(refDir(repo, remote), ref);
  if (checksum === null) {
    try {
      await fsp.unlink(file);
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
    }
    return;
  }
  if (!isChecksum(checksum)) throw new OstreeTsError(Codes.INVALID_CHECKSUM, `'${checksum}' is not a valid checksum.`, { checksum });
  await mkdirp(path.dirname(file), 0o775);
  await atomicWriteFile(file, `${checksum}\n`, { fsync: repo.fsyncEnabled });
  const now = new Date(repo.host.now());
  await fsp.utimes(repo.path, now, now).catch(() => undefined);
}

/**
 * Resolve a revision: a full checksum, a unique checksum prefix, a ref
 * (`REF`, `REMOTE:REF`, `REMOTE/REF`), each optionally followed by `^`s.
 */
export async function resolveRev(repo: Repo, rev: string, opts: { allowMissing?: boolean } = {}): Promise<string | null> {
  const m = /^(.*?)(\^*)$/.exec(rev);
  const base = m ? m[1] : rev;
  const ups = m ? m[2].length : 0;
  let csum = await resolveBase(repo, base);
  if (!csum) {
    if (opts.allowMissing) return null;
    throw new OstreeTsError(Codes.REF_NOT_FOUND, `Refspec '${base}' not found. List refs with 'ostree-ts refs', or give a commit checksum.`, { rev: base });
  }
  for (let i = 0; i < ups; i++) {
    const c = await repo.loadCommit(csum);
    if (!c.parent) {
      throw new OstreeTsError(Codes.REF_NOT_FOUND, `Commit ${csum} has no parent, so '${rev}' names nothing.`, { rev, checksum: csum });
    }
    csum = c.parent;
  }
  return csum;
}

async function resolveBase(repo: Repo, base: string): Promise<string | null> {
  if (isChecksum(base)) return base;
  if (/^[0-9a-f]{4,63}$/.test(base)) {
    const found = await findByPrefix(repo, base);
    if (found) return found;
  }
  try {
    return await readRef(repo, base);
  } catch (e) {
    if (e instanceof OstreeTsError && e.code === Codes.INVALID_REF) return null;
    throw e;
  }
}

async function findByPrefix(repo: Repo, prefix: string): Promise<string | null> {
  const dir = path.join(repo.path, 'objects', prefix.slice(0, 2));
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return null;
    throw e;
  }
  const rest = prefix.slice(2);
  const hits = names.filter((n) => n.endsWith('.commit') && n.startsWith(rest));
  if (hits.length > 1) {
    throw new OstreeTsError(Codes.REF_NOT_FOUND, `The checksum prefix '${prefix}' is ambiguous; give more digits.`, { prefix });
  }
  return hits.length ? prefix.slice(0, 2) + hits[0].slice(0, 62) : null;
}

/** Local refs that are aliases (symlinks in refs/heads) and the ref each names. */
export async function listRefAliases(repo: Repo): Promise<Array<{ ref: string; target: string }>> {
  const files: Array<[string, string]> = [];
  const heads = refDir(repo, null);
  await walk(heads, '', files);
  const out: Array<{ ref: string; target: string }> = [];
  for (const [name, file] of files) {
    const st = await fsp.lstat(file);
    if (!st.isSymbolicLink()) continue;
    const link = await fsp.readlink(file);
    out.push({ ref: name, target: path.relative(heads, path.resolve(path.dirname(file), link)) });
  }
  return out;
}

/** Make local ref `alias` a symlink to local ref `target` (`refs --create=ALIAS --alias TARGET`). */
export async function writeRefAlias(repo: Repo, alias: string, target: string): Promise<void> {
  validateRefName(alias);
  validateRefName(target);
  const heads = refDir(repo, null);
  const targetFile = path.join(heads, target);
  if (!(await readRefFile(targetFile, target))) {
    throw new OstreeTsError(Codes.REF_NOT_FOUND, `Cannot create alias to non-existent ref: ${target}. An alias names a local ref; create that first.`, { ref: target });
  }
  const file = path.join(heads, alias);
  await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o775 });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.alias-tmp`);
  await fsp.rm(tmp, { force: true });
  await fsp.symlink(path.relative(path.dirname(file), targetFile), tmp);
  await fsp.rename(tmp, file);
}

/** A collection–ref and the commit it names here. */
export interface CollectionRefEntry extends CollectionRef {
  checksum: string;
}

export interface ListCollectionRefsOptions {
  /** Only refs of this collection. */
  collection?: string;
  excludeRemotes?: boolean;
  excludeMirrors?: boolean;
}

/** The remotes of the repository's config, in the order it lists them. */
export function configuredRemotes(repo: Repo): string[] {
  const out: string[] = [];
  for (const g of repo.config.groups) {
    const m = /^remote "(.+)"$/.exec(g.name);
    if (m) out.push(m[1]);
  }
  return out;
}

/** The collection ID configured for `remote`, when it has a valid one. */
export function remoteCollectionId(repo: Repo, remote: string): string | null {
  const id = repo.config.get(`remote "${remote}"`, 'collection-id')?.trim();
  return id && isValidCollectionId(id) ? id : null;
}

/**
 * Every ref this repository holds that has a collection ID, as libostree
 * lists them: refs/heads under the repository's own collection-id,
 * refs/mirrors/COLLECTION/REF, and refs/remotes/REMOTE/REF of each remote
 * with a collection-id. The first place a pair is found wins.
 */
export async function listCollectionRefs(repo: Repo, opts: ListCollectionRefsOptions = {}): Promise<CollectionRefEntry[]> {
  if (opts.collection !== undefined) validateCollectionId(opts.collection);
  const out: CollectionRefEntry[] = [];
  const seen = new Set<string>();
  const add = (e: CollectionRefEntry): void => {
    const key = `${e.collection}\0${e.ref}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(e);
  };
  const wanted = (id: string): boolean => opts.collection === undefined || opts.collection === id;
  const own = repo.config.get('core', 'collection-id')?.trim();
  if (own && wanted(own)) {
    const files: Array<[string, string]> = [];
    await walk(refDir(repo, null), '', files);
    for (const [name, file] of files.sort(byName)) {
      const checksum = await readRefFile(file, name);
      if (checksum) add({ collection: own, ref: name, checksum });
    }
  }
  if (!opts.excludeMirrors) {
    const files: Array<[string, string]> = [];
    await walk(path.join(repo.path, 'refs', 'mirrors'), '', files);
    for (const [name, file] of files.sort(byName)) {
      const slash = name.indexOf('/');
      if (slash < 0 || !wanted(name.slice(0, slash))) continue;
      const checksum = await readRefFile(file, name);
      if (checksum) add({ collection: name.slice(0, slash), ref: name.slice(slash + 1), checksum });
    }
  }
  if (!opts.excludeRemotes) {
    const files: Array<[string, string]> = [];
    await walk(path.join(repo.path, 'refs', 'remotes'), '', files);
    for (const [name, file] of files.sort(byName)) {
      const slash = name.indexOf('/');
      if (slash < 0) continue;
      const remote = name.slice(0, slash);
      const id = remoteCollectionId(repo, remote);
      if (!id || !wanted(id)) continue;
      const checksum = await readRefFile(file, `${remote}:${name.slice(slash + 1)}`);
      if (checksum) add({ collection: id, ref: name.slice(slash + 1), checksum });
    }
  }
  return out;
}

/** The commit a collection–ref names in this repository (wherever libostree would look), or null. */
export async function resolveCollectionRef(repo: Repo, c: CollectionRef): Promise<string | null> {
  validateRefName(c.ref);
  const found = (await listCollectionRefs(repo, { collection: c.collection })).find((e) => e.ref === c.ref);
  return found?.checksum ?? null;
}

/** The refspec-like path a collection–ref is written to: refs/heads/REF for the repository's own collection, else refs/mirrors/COLLECTION/REF. */
export function collectionRefFile(repo: Repo, c: CollectionRef): string {
  validateCollectionId(c.collection);
  validateRefName(c.ref);
  const own = repo.config.get('core', 'collection-id')?.trim();
  return own === c.collection ? path.join(refDir(repo, null), c.ref) : path.join(repo.path, 'refs', 'mirrors', c.collection, c.ref);
}

/** Point a collection–ref at a commit (atomically, as writeRef). */
export async function writeCollectionRef(repo: Repo, c: CollectionRef, checksum: string): Promise<void> {
  if (!isChecksum(checksum)) throw new OstreeTsError(Codes.INVALID_CHECKSUM, `'${checksum}' is not a valid checksum.`, { checksum });
  const file = collectionRefFile(repo, c);
  await mkdirp(path.dirname(file), 0o775);
  await atomicWriteFile(file, `${checksum}\n`, { fsync: repo.fsyncEnabled });
  const now = new Date(repo.host.now());
  await fsp.utimes(repo.path, now, now).catch(() => undefined);
}
