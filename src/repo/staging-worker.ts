/**
 * The worker thread behind StagingWriter: checks served `.filez` objects
 * (verify-object.ts) and creates staged files in their stored form
 * (stored-form.ts), synchronously, one batch per message.
 */
import { InternalError, OstreeTsError } from '../errors/index.js';
import { sha256Hex } from '../format/checksum.js';
import { canonicalXattrs, encodeFileHeader, objectSuffix, S_IFLNK, S_IFMT, S_IFREG, type FileHeader } from '../format/objects.js';
// The modules themselves, not io/index.js: the worker starts faster without the rest of io.
import { createFileSync, createSymlinkSync, deflateRawSync, inflateRawSync, listNamesSync, readSourceEntrySync, renameFileSync } from '../io/object-files.js';
import { serveWorker } from '../io/worker.js';
import { applyRules } from './commit-filter.js';
import type { SourceProfile, StageItem, StageReply, StageRequest, StageResult } from './staging-writer.js';
import { ARCHIVE_OBJECT_MODE, checkStorable, storedForm, type StoreProfile, type StoredForm } from './stored-form.js';
import { BadObjectError, verifyContent, verifyFilez } from './verify-object.js';

/** Create a content object's staged file in its stored form (see stored-form.ts); returns the bytes written. */
function writeForm(dest: string, form: StoredForm, content: Uint8Array, zlibLevel: number): number {
  switch (form.kind) {
    case 'archive': {
      const body = form.deflate ? deflateRawSync(content, zlibLevel) : null;
      const out = body ? Buffer.concat([form.prefix, body]) : form.prefix;
      createFileSync(dest, out, { mode: form.mode });
      return out.length;
    }
    case 'file': {
      const body = form.body ?? content;
      createFileSync(dest, body, { mode: form.mode, owner: form.owner, xattrs: form.xattrs, zeroTimes: true });
      return body.length;
    }
    case 'symlink':
      createSymlinkSync(dest, form.target, { owner: form.owner, xattrs: form.xattrs, zeroTimes: true });
      return 0;
  }
}

/** `write`, where a file already staged at its destination (by this thread or another: the same object) counts as written, with no bytes. */
function unlessStaged(write: () => number): number | null {
  try {
    return write();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return null;
    throw err;
  }
}

/** What objects/XX/ holds, per fan-out directory, listed on first use (one readdir instead of a stat per object). */
class SyncObjectIndex {
  private fanouts: Set<string> | null = null;
  private readonly dirs = new Map<string, Set<string>>();

  constructor(private readonly objectsDir: string, private readonly suffix: string) {}

  has(checksum: string): boolean {
    const fan = checksum.slice(0, 2);
    let names = this.dirs.get(fan);
    if (!names) {
      this.fanouts ??= new Set(listNamesSync(this.objectsDir));
      names = new Set(this.fanouts.has(fan) ? listNamesSync(`${this.objectsDir}/${fan}`) : []);
      this.dirs.set(fan, names);
    }
    return names.has(`${checksum.slice(2)}.${this.suffix}`);
  }
}

const indexes = new Map<string, SyncObjectIndex>();
let scratch: Buffer | null = null;

/**
 * A file of a tree being committed: read (a symlink's target, or a small
 * file whole), hashed as a content object with the committed owner and mode,
 * and, unless the repository already has the object, created in the staging
 * directory in its stored form. The file's bytes go from the disk to the
 * object in one run of calls on this thread.
 */
function commitSource(profile: StoreProfile, zlibLevel: number, src: SourceProfile, path: string): StageResult {
  if (!scratch || scratch.length < src.largeAt + 1) scratch = Buffer.allocUnsafe(src.largeAt + 1);
  const e = readSourceEntrySync(path, scratch, src.largeAt, src.noXattrs);
  const type = e.mode & S_IFMT;
  if (type !== S_IFREG && type !== S_IFLNK) return { ok: true, bytes: 0, source: { special: e.mode } };
  if (e.large) return { ok: true, bytes: 0, source: { deferred: true } };
  const isLink = type === S_IFLNK;
  const st = applyRules(src.rules, { mode: e.mode & (S_IFMT | 0o7777), uid: e.uid, gid: e.gid });
  const header: FileHeader = {
    uid: st.uid, gid: st.gid, mode: isLink ? S_IFLNK | 0o777 : st.mode, rdev: 0,
    symlinkTarget: e.target ?? '',
    xattrs: canonicalXattrs(e.xattrs),
  };
  const content = scratch.subarray(0, e.length);
  const checksum = sha256Hex(encodeFileHeader(header), content);
  const isArchive = profile.mode === 'archive';
  let index = indexes.get(src.objectsDir);
  if (!index) indexes.set(src.objectsDir, (index = new SyncObjectIndex(src.objectsDir, objectSuffix('file', isArchive))));
  if (index.has(checksum)) return { ok: true, bytes: 0, source: { checksum, written: false, size: e.length, stored: 0 } };
  const dest = `${src.stagingDir}/${checksum}.${objectSuffix('file', isArchive)}`;
  const form = storedForm(profile.mode, header, e.length);
  // A new file is ours already: leave out the owner (and the chown) when it would not change.
  const mine = src.newFileOwner;
  if (form.kind !== 'archive' && form.owner && mine && form.owner.uid === mine.uid && form.owner.gid === mine.gid) form.owner = null;
  const bytes = unlessStaged(() => writeForm(dest, form, content, zlibLevel));
  if (bytes === null) return { ok: true, bytes: 0, source: { checksum, written: false, size: e.length, stored: 0 } };
  return { ok: true, bytes, source: { checksum, written: true, size: e.length, stored: bytes } };
}

function stage(profile: StoreProfile, zlibLevel: number, item: StageItem, src: SourceProfile | undefined): StageResult {
  try {
    if (item.kind === 'source') {
      if (!src) throw new InternalError('a source item came without its profile', { path: item.path });
      return commitSource(profile, zlibLevel, src, item.path);
    }
    if (item.kind === 'rename') {
      renameFileSync(item.from, item.dest);
      return { ok: true, bytes: 0 };
    }
    if (item.kind === 'content') {
      verifyContent(item.checksum, item.header, item.data);
      checkStorable(profile, item.checksum, item.header);
      return { ok: true, bytes: unlessStaged(() => writeForm(item.dest, storedForm(profile.mode, item.header, item.data.length), item.data, zlibLevel)) ?? 0 };
    }
    if (item.kind === 'metadata') {
      createFileSync(item.dest, item.data, { mode: 0o644 });
      return { ok: true, bytes: item.data.length };
    }
    const { header, content } = verifyFilez(item.checksum, item.data, inflateRawSync);
    if (profile.mode === 'archive') {
      // An archive repository keeps the object as served: no second compression.
      createFileSync(item.dest, item.data, { mode: ARCHIVE_OBJECT_MODE });
      return { ok: true, bytes: item.data.length };
    }
    checkStorable(profile, item.checksum, header);
    return { ok: true, bytes: writeForm(item.dest, storedForm(profile.mode, header, content.length), content, zlibLevel) };
  } catch (e) {
    if (e instanceof BadObjectError) return { ok: false, bad: e.data, message: e.message };
    if (e instanceof OstreeTsError) return { ok: false, code: e.code, message: e.message, data: e.data };
    const err = e as NodeJS.ErrnoException;
    return { ok: false, errno: err.code, message: err.message, path: err.path ?? (item.kind === 'source' ? item.path : item.dest), syscall: err.syscall };
  }
}

serveWorker<StageRequest, StageReply>((req) => ({ reply: { id: req.id, results: req.items.map((item) => stage(req.profile, req.zlibLevel, item, req.source)) } }));
