/**
 * `ostree checksum PATH`: the name a file, symlink or directory would have as
 * an object — a content object's checksum (header, then content) for a file
 * or symlink, a dirmeta's for a directory — from what is on disk: owner,
 * mode, extended attributes (unless left out) and content.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { sha256Hex } from '../format/checksum.js';
import { canonicalXattrs, encodeDirMeta, type Xattr } from '../format/objects.js';
import { createReadStream, fsp, isErrno } from '../io/fs.js';
import { readXattrs } from '../io/xattr.js';
import { contentHasher } from './verify-object.js';

export interface ChecksumPathOptions {
  /** Leave extended attributes out (`--ignore-xattrs`). */
  ignoreXattrs?: boolean;
  /** Take this owner instead of the file's (`diff --owner-uid/--owner-gid`). */
  uid?: number;
  gid?: number;
}

export async function checksumPath(p: string, opts: ChecksumPathOptions = {}): Promise<string> {
  let st;
  try {
    st = await fsp.lstat(p);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) throw new OstreeTsError(Codes.NOT_FOUND, `${p} does not exist.`, { path: p }, { cause: e });
    throw e;
  }
  const xattrs: Xattr[] = opts.ignoreXattrs ? [] : canonicalXattrs(await readXattrs(p));
  const owner = { uid: opts.uid ?? st.uid, gid: opts.gid ?? st.gid, mode: st.mode, xattrs };
  if (st.isDirectory()) return sha256Hex(encodeDirMeta(owner));
  if (st.isSymbolicLink()) {
    return contentHasher({ ...owner, rdev: 0, symlinkTarget: await fsp.readlink(p) }).digest('hex');
  }
  if (!st.isFile()) {
    throw new OstreeTsError(Codes.UNSUPPORTED_FILE_TYPE, `${p} is neither a regular file, a symlink nor a directory; OSTree stores no other kind of file.`, { path: p });
  }
  const hash = contentHasher({ ...owner, rdev: 0, symlinkTarget: '' });
  for await (const chunk of createReadStream(p)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
