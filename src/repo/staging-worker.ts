/**
 * The worker thread behind StagingWriter: checks served `.filez` objects
 * (verify-object.ts) and creates staged files in their stored form
 * (stored-form.ts), synchronously, one batch per message.
 */
import { InternalError, OstreeTsError } from '../errors/index.js';
// The modules themselves, not io/index.js: the worker starts faster without the rest of io.
import { createFileSync, createSymlinkSync, inflateRawSync, renameFileSync } from '../io/object-files.js';
import { serveWorker } from '../io/worker.js';
import type { StageItem, StageReply, StageRequest, StageResult } from './staging-writer.js';
import { ARCHIVE_OBJECT_MODE, checkStorable, storedForm, type StoreProfile, type StoredForm } from './stored-form.js';
import { BadObjectError, verifyFilez } from './verify-object.js';

/** Create a content object's staged file in its stored form (see stored-form.ts); returns the bytes written. */
function writeForm(dest: string, form: StoredForm, content: Uint8Array): number {
  switch (form.kind) {
    case 'archive':
      throw new InternalError('an archive repository stores a served object as it is, not rebuilt', { path: dest });
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

function stage(profile: StoreProfile, item: StageItem): StageResult {
  try {
    if (item.kind === 'rename') {
      renameFileSync(item.from, item.dest);
      return { ok: true, bytes: 0 };
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
    return { ok: true, bytes: writeForm(item.dest, storedForm(profile.mode, header, content.length), content) };
  } catch (e) {
    if (e instanceof BadObjectError) return { ok: false, bad: e.data, message: e.message };
    if (e instanceof OstreeTsError) return { ok: false, code: e.code, message: e.message, data: e.data };
    const err = e as NodeJS.ErrnoException;
    return { ok: false, errno: err.code, message: err.message, path: err.path ?? item.dest, syscall: err.syscall };
  }
}

serveWorker<StageRequest, StageReply>((req) => ({ reply: { id: req.id, results: req.items.map((item) => stage(req.profile, item)) } }));
