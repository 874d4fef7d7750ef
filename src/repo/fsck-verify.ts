/**
 * fsck's check of one loose object, synchronously, for the fsck worker
 * threads: the object is read back as the repository stores it (stored-form.ts
 * in reverse), re-hashed and, for metadata, re-parsed, in one run of calls on
 * the worker's thread. Its findings read as the main thread's own
 * (fsck.ts, `problemOf`).
 */
import { OstreeTsError } from '../errors/index.js';
import { canonicalXattrs, decodeMetadata, decodeUserMeta, S_IFLNK, S_IFMT, S_IFREG, type FileHeader, type ObjectType } from '../format/objects.js';
import { inflateRawSync, lstatSync, readChunksSync, readFileSync, readlinkSync } from '../io/object-files.js';
import { readXattrSync, readXattrsSync } from '../io/xattr.js';
import type { RepoMode } from './repo.js';
import { noUserMetaError, storedTypeError } from './stored-form.js';
import { BadObjectError, contentHasher, verifyFilez, verifyMetadata } from './verify-object.js';

export interface FsckProfile {
  mode: RepoMode;
  disableXattrs: boolean;
  /** Archive objects larger than this are left to the caller, which streams them (`defer`). */
  holdAtMost: number;
}

/** What fsck says of an object it could not verify. */
export function problemOf(e: unknown, checksum: string): string {
  if (e instanceof BadObjectError && e.data.actual) return e.data.type === 'file' ? `content checksum is ${e.data.actual}, not ${checksum}` : `checksum is ${e.data.actual}, not ${checksum}`;
  // The phrase alone: the report says which object is corrupt, and what to do, itself.
  if (e instanceof BadObjectError) return e.why.replace(/\.$/, '');
  if (e instanceof OstreeTsError) return (typeof e.data.reason === 'string' ? e.data.reason : e.message).replace(/\.$/, '');
  throw e;
}

/** The header of a bare-family content object, from its stored file. */
function storedHeader(profile: FsckProfile, checksum: string, p: string): FileHeader {
  const st = lstatSync(p);
  const isLink = st.isSymbolicLink();
  switch (profile.mode) {
    case 'bare-user': {
      if (!st.isFile()) throw storedTypeError(checksum);
      const raw = readXattrSync(p, 'user.ostreemeta');
      if (!raw) throw noUserMetaError(checksum);
      const meta = decodeUserMeta(raw, `user.ostreemeta of ${checksum}`);
      let target = '';
      if ((meta.mode & S_IFMT) === S_IFLNK) {
        const body = readFileSync(p);
        const nul = body.indexOf(0);
        target = body.subarray(0, nul < 0 ? body.length : nul).toString('utf8');
      }
      return { uid: meta.uid, gid: meta.gid, mode: meta.mode, rdev: 0, symlinkTarget: target, xattrs: meta.xattrs };
    }
    case 'bare-user-only':
      if (!st.isFile() && !isLink) throw storedTypeError(checksum);
      return { uid: 0, gid: 0, mode: isLink ? S_IFLNK | 0o777 : st.mode, rdev: 0, symlinkTarget: isLink ? readlinkSync(p, 'utf8') : '', xattrs: [] };
    default: {
      if (!st.isFile() && !isLink) throw storedTypeError(checksum);
      const xattrs = profile.disableXattrs ? [] : canonicalXattrs(readXattrsSync(p));
      return { uid: st.uid, gid: st.gid, mode: st.mode, rdev: 0, symlinkTarget: isLink ? readlinkSync(p, 'utf8') : '', xattrs };
    }
  }
}

/**
 * Check the object at `p`: null when it is sound, what is wrong with it, or
 * 'defer' for an archive object too large to hold (the caller streams it).
 */
export function verifyObjectSync(profile: FsckProfile, checksum: string, type: ObjectType, p: string, scratch: Buffer): string | null | 'defer' {
  try {
    // What is too large to hold (or, as metadata, suspiciously large) goes back to the caller, which knows the limits.
    if ((type !== 'file' || profile.mode === 'archive') && lstatSync(p).size > profile.holdAtMost) return 'defer';
    if (type !== 'file') {
      const bytes = readFileSync(p);
      if (type === 'commitmeta' || type === 'tombstone-commit') decodeMetadata(bytes);
      else verifyMetadata(checksum, type, bytes);
      return null;
    }
    if (profile.mode === 'archive') {
      verifyFilez(checksum, readFileSync(p), inflateRawSync);
      return null;
    }
    const header = storedHeader(profile, checksum, p);
    const h = contentHasher(header);
    if ((header.mode & S_IFMT) === S_IFREG) readChunksSync(p, scratch, (c) => h.update(c));
    const actual = h.digest('hex');
    return actual === checksum ? null : `content checksum is ${actual}, not ${checksum}`;
  } catch (e) {
    return problemOf(e, checksum);
  }
}
