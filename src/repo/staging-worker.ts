/**
 * The worker thread behind StagingWriter: checks served `.filez` objects and
 * creates staged files, synchronously, one batch per message.
 */
import { InternalError, OstreeTsError } from '../errors/index.js';
import { S_IFLNK, S_IFMT, decodeArchiveHeader, encodeUserMeta, sha256Hex, encodeFileHeader, type FileHeader } from '../format/index.js';
// The modules themselves, not io/index.js: the worker starts faster without the rest of io.
import { createFileSync, createSymlinkSync, inflateRawSync, renameFileSync } from '../io/object-files.js';
import { serveWorker } from '../io/worker.js';
import type { RepoMode } from './repo.js';
import type { StageItem, StageReply, StageRequest, StageResult } from './staging-writer.js';
import { checkStorable } from './storable.js';
import { storedFileMode } from './stored-mode.js';

class Bad extends Error {}

/** Check a served `.filez` against its name; returns its header and content. */
function checkFilez(checksum: string, data: Uint8Array): { header: FileHeader; content: Uint8Array } {
  let header: FileHeader;
  let size: bigint;
  let length: number;
  try {
    ({ header, size, length } = decodeArchiveHeader(data, `file ${checksum}`));
  } catch (e) {
    throw new Bad((e as Error).message);
  }
  let content: Uint8Array = new Uint8Array(0);
  if ((header.mode & S_IFMT) !== S_IFLNK) {
    const n = Number(size);
    try {
      content = inflateRawSync(data.subarray(length), n + 1);
    } catch (e) {
      throw new Bad(`its compressed content cannot be inflated (${(e as Error).message})`);
    }
    if (content.length !== n) throw new Bad(`it inflates to ${content.length} bytes, not ${size}`);
  }
  if (sha256Hex(encodeFileHeader(header), content) !== checksum) throw new Bad('its content does not match its name');
  return { header, content };
}

/** Create a content object's staged file in `mode`'s stored form. */
function writeContent(mode: RepoMode, dest: string, header: FileHeader, content: Uint8Array): number {
  const isLink = (header.mode & S_IFMT) === S_IFLNK;
  switch (mode) {
    case 'archive':
      throw new InternalError('archive objects are stored as served, not staged by the worker');
    case 'bare-user': {
      const meta = [{ name: 'user.ostreemeta', value: encodeUserMeta(header.uid, header.gid, header.mode, header.xattrs) }];
      if (isLink) {
        const body = Buffer.concat([Buffer.from(header.symlinkTarget, 'utf8'), Buffer.from([0])]);
        createFileSync(dest, body, { mode: 0o644, xattrs: meta, zeroTimes: true });
        return body.length;
      }
      createFileSync(dest, content, { mode: storedFileMode(mode, header.mode), xattrs: meta, zeroTimes: true });
      return content.length;
    }
    case 'bare-user-only':
      if (isLink) createSymlinkSync(dest, header.symlinkTarget, { zeroTimes: true });
      else createFileSync(dest, content, { mode: storedFileMode(mode, header.mode), zeroTimes: true });
      return content.length;
    case 'bare': {
      const owner = { uid: header.uid, gid: header.gid };
      if (isLink) createSymlinkSync(dest, header.symlinkTarget, { owner, xattrs: header.xattrs, zeroTimes: true });
      else createFileSync(dest, content, { mode: storedFileMode(mode, header.mode), owner, xattrs: header.xattrs, zeroTimes: true });
      return content.length;
    }
  }
}

function stage(mode: RepoMode, item: StageItem): StageResult {
  try {
    if (item.kind === 'rename') {
      renameFileSync(item.from, item.dest);
      return { ok: true, bytes: 0 };
    }
    if (item.kind === 'metadata') {
      createFileSync(item.dest, item.data, { mode: 0o644 });
      return { ok: true, bytes: item.data.length };
    }
    const { header, content } = checkFilez(item.checksum, item.data);
    if (mode === 'archive') {
      // An archive repository keeps the object as served: no second compression.
      createFileSync(item.dest, item.data, { mode: 0o644 });
      return { ok: true, bytes: item.data.length };
    }
    checkStorable(mode, item.checksum, header);
    return { ok: true, bytes: writeContent(mode, item.dest, header, content) };
  } catch (e) {
    if (e instanceof Bad) return { ok: false, bad: e.message, message: e.message };
    if (e instanceof OstreeTsError) return { ok: false, code: e.code, message: e.message, data: e.data };
    const err = e as NodeJS.ErrnoException;
    return { ok: false, errno: err.code, message: err.message };
  }
}

serveWorker<StageRequest, StageReply>((req) => ({ reply: { id: req.id, results: req.items.map((item) => stage(req.mode, item)) } }));
