/**
 * Can a repository of a given mode store a content object so that it reads
 * back as the same object? A file's checksum covers its owner, mode and
 * extended attributes; a mode that keeps less (bare-user-only keeps no owner
 * and no xattrs; bare keeps xattrs only as the filesystem lists them, sorted
 * and never empty; symlinks on Linux are always 0777) would turn such an
 * object into one that fails its own checksum. Copies between repositories
 * (pull, pull-local) refuse those objects instead of storing them damaged.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { S_IFLNK, S_IFMT, type FileHeader } from '../format/index.js';
import type { RepoMode } from './repo.js';

/** Why `mode` cannot store this object faithfully, as a phrase; null when it can. */
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

/** Throw when `mode` cannot store object `checksum` faithfully. */
export function checkStorable(mode: RepoMode, checksum: string, header: FileHeader, opts: { disableXattrs?: boolean } = {}): void {
  const why = unstorableReason(mode, header, opts);
  if (why) {
    throw new OstreeTsError(Codes.UNSUPPORTED_MODE, `Content object ${checksum} cannot be stored in this ${mode} repository as it is: ${why}, so it would read back as another object. Nothing of it was stored; use a bare-user or archive repository for this content.`, { checksum, type: 'file', mode });
  }
}
