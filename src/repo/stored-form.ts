/**
 * How each repository mode stores a content object, described once. A pure
 * description (bytes, mode bits, owner, xattrs): the transaction's writer
 * (asynchronous, streaming) and the staging worker (synchronous, in batches)
 * both execute it, so the two cannot drift apart.
 *
 * - archive: a `.filez` file, mode 0644: the archive header (with the content
 *   size), then the content deflated (nothing for a symlink).
 * - bare: the file itself with its real owner, mode and xattrs; a symlink is a
 *   symlink, owned and with xattrs.
 * - bare-user: a regular file owned by whoever writes it, readable by its
 *   owner and never setuid; the real owner, mode and xattrs go in the
 *   `user.ostreemeta` xattr. A symlink is a 0644 file holding its target and
 *   a NUL, with the same xattr.
 * - bare-user-only: the file with its mode (no owner, no xattrs); a symlink
 *   is a symlink. What it cannot keep is refused (`unstorableReason`).
 *
 * Every bare-family object gets atime and mtime 0.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { S_IFLNK, S_IFMT, S_IFREG, encodeArchiveHeader, encodeUserMeta, type FileHeader, type Xattr } from '../format/objects.js';
import type { RepoMode } from './repo.js';

export interface Owner {
  uid: number;
  gid: number;
}

/** The stored form of one content object. */
export type StoredForm =
  /** archive: `prefix`, then the content deflated when `deflate` (never for a symlink). */
  | { kind: 'archive'; prefix: Buffer; deflate: boolean; mode: number }
  /** A regular file holding `body`, or the object's content when `body` is null. */
  | { kind: 'file'; body: Buffer | null; mode: number; owner: Owner | null; xattrs: Xattr[] }
  | { kind: 'symlink'; target: string; owner: Owner | null; xattrs: Xattr[] };

/** The mode of an archive repository's `.filez` files. */
export const ARCHIVE_OBJECT_MODE = 0o644;

/**
 * The stored form of a content object with this header and `size` bytes of
 * content, in a repository of `repoMode`. Throws for what no mode stores
 * (devices, fifos) and for modes bare-user-only refuses.
 */
export function storedForm(repoMode: RepoMode, header: FileHeader, size: number): StoredForm {
  const type = header.mode & S_IFMT;
  const isLink = type === S_IFLNK;
  if (type !== S_IFREG && !isLink) {
    throw new OstreeTsError(Codes.UNSUPPORTED_FILE_TYPE, `Cannot store mode 0${header.mode.toString(8)}: only regular files and symlinks are content objects.`, { mode: header.mode });
  }
  switch (repoMode) {
    case 'archive':
      return { kind: 'archive', prefix: encodeArchiveHeader(header, isLink ? 0 : size), deflate: !isLink, mode: ARCHIVE_OBJECT_MODE };
    case 'bare-user': {
      const xattrs = [{ name: 'user.ostreemeta', value: encodeUserMeta(header.uid, header.gid, header.mode, header.xattrs) }];
      if (isLink) return { kind: 'file', body: Buffer.concat([Buffer.from(header.symlinkTarget, 'utf8'), Buffer.from([0])]), mode: 0o644, owner: null, xattrs };
      return { kind: 'file', body: null, mode: storedFileMode(repoMode, header.mode), owner: null, xattrs };
    }
    case 'bare-user-only':
      if (isLink) return { kind: 'symlink', target: header.symlinkTarget, owner: null, xattrs: [] };
      return { kind: 'file', body: null, mode: storedFileMode(repoMode, header.mode), owner: null, xattrs: [] };
    case 'bare': {
      const owner = { uid: header.uid, gid: header.gid };
      if (isLink) return { kind: 'symlink', target: header.symlinkTarget, owner, xattrs: header.xattrs };
      return { kind: 'file', body: null, mode: storedFileMode(repoMode, header.mode), owner, xattrs: header.xattrs };
    }
  }
}

/**
 * The permission bits a regular file's content object gets in each mode
 * (libostree's rules): bare-user keeps the real mode in an xattr and stores
 * the file readable by its owner and never setuid; bare-user-only refuses
 * what it cannot store; bare (and archive) keep the mode as it is.
 */
export function storedFileMode(repoMode: RepoMode, mode: number): number {
  if (repoMode === 'bare-user') return (mode & 0o775) | 0o400;
  if (repoMode === 'bare-user-only' && (mode & ~(S_IFMT | 0o775)) !== 0) {
    throw new OstreeTsError(Codes.UNSUPPORTED_MODE, `A bare-user-only repository cannot store mode 0${(mode & 0o7777).toString(8)} (setuid, setgid and sticky bits, and world-writable files, are refused). Commit with canonical permissions, or use another mode.`, { mode, hint: { option: 'canonicalPermissions' } });
  }
  return mode & 0o7777;
}

/** What a repository keeps of what it stores: its mode, and whether it reads xattrs back (core.disable-xattrs). */
export interface StoreProfile {
  mode: RepoMode;
  disableXattrs?: boolean;
}

/**
 * Why a repository cannot store a content object so that it reads back as
 * the same object, as a phrase; null when it can. A file's checksum covers
 * its owner, mode and extended attributes; a mode that keeps less
 * (bare-user-only keeps no owner and no xattrs; bare keeps xattrs only as the
 * filesystem lists them, sorted and never empty; symlinks on Linux are always
 * 0777) would turn such an object into one that fails its own checksum.
 * Copies between repositories refuse those objects instead of storing them damaged.
 */
export function unstorableReason(mode: RepoMode, header: FileHeader, opts: { disableXattrs?: boolean } = {}): string | null {
  if (mode === 'archive' || mode === 'bare-user') return null; // the header is kept whole
  const perms = header.mode & 0o7777;
  const isLink = (header.mode & S_IFMT) === S_IFLNK;
  if (isLink && perms !== 0o777) return `it is a symlink with mode 0${perms.toString(8)}, and symlinks here are always 0777`;
  if (mode === 'bare-user-only') {
    const why: string[] = [];
    if (header.uid !== 0 || header.gid !== 0) why.push(`owner ${header.uid}:${header.gid}`);
    if (header.xattrs.length) why.push(`${header.xattrs.length} extended attribute(s)`);
    if (!isLink && (perms & ~0o775) !== 0) why.push(`mode 0${perms.toString(8)}`);
    return why.length ? `it has ${why.join(' and ')}, which a bare-user-only repository does not keep` : null;
  }
  // bare: xattrs read back sorted by name, without empty values.
  if (header.xattrs.length && opts.disableXattrs) return 'it has extended attributes, and core.disable-xattrs makes this repository read none';
  for (let i = 0; i < header.xattrs.length; i++) {
    const x = header.xattrs[i];
    if (x.value.length === 0) return `its extended attribute ${x.name} is empty, and the filesystem does not list empty ones back`;
    if (i > 0 && Buffer.compare(Buffer.from(header.xattrs[i - 1].name), Buffer.from(x.name)) >= 0) {
      return `its extended attributes are not sorted by name, or repeat one (${x.name}), and the filesystem lists them back sorted`;
    }
  }
  return null;
}

/** Throw when the repository cannot store object `checksum` faithfully. */
export function checkStorable(profile: StoreProfile, checksum: string, header: FileHeader): void {
  const why = unstorableReason(profile.mode, header, { disableXattrs: profile.disableXattrs });
  if (why) {
    throw new OstreeTsError(Codes.UNSUPPORTED_MODE, `Content object ${checksum} cannot be stored in this ${profile.mode} repository as it is: ${why}, so it would read back as another object. Nothing of it was stored; use a bare-user or archive repository for this content.`, { checksum, type: 'file', mode: profile.mode });
  }
}

/**
 * `--bareuseronly-files`: a regular file whose mode has bits outside 0775
 * (setuid, setgid, sticky, world-writable) is refused, with ostree's words.
 */
export function checkBareUserOnlyFile(checksum: string, header: FileHeader): void {
  if ((header.mode & S_IFMT) !== S_IFREG) return;
  const invalid = header.mode & ~S_IFMT & ~0o775;
  if (invalid) {
    throw new OstreeTsError(Codes.UNSUPPORTED_MODE, `Content object ${checksum}: invalid mode 0${header.mode.toString(8)} with bits 0${invalid.toString(8).padStart(4, '0')} (with --bareuseronly-files a file may not be setuid, setgid, sticky or world-writable). Nothing of it was stored and no ref moved.`, { checksum, mode: header.mode });
  }
}

/** A content object stored as neither a regular file nor a symlink. */
export function storedTypeError(checksum: string): OstreeTsError {
  return new OstreeTsError(Codes.OBJECT_CORRUPT, `Object ${checksum}.file is neither a regular file nor a symlink. Run 'ostree-ts fsck --delete' and pull or commit it again.`, { checksum, type: 'file', reason: 'it is neither a regular file nor a symlink' });
}

/** A bare-user content object without its user.ostreemeta. */
export function noUserMetaError(checksum: string): OstreeTsError {
  return new OstreeTsError(Codes.OBJECT_CORRUPT, `Object ${checksum}.file has no user.ostreemeta attribute. Run 'ostree-ts fsck --delete' and pull or commit it again.`, { checksum, type: 'file', reason: 'it has no user.ostreemeta attribute' });
}
