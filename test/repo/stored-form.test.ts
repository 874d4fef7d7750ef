/**
 * Each mode's stored form is described once (repo/stored-form.ts) and
 * executed twice: by the transaction's asynchronous writer and by the
 * staging worker's synchronous one. The description is checked against what
 * each mode must store; the two executors must produce the same files (mode
 * bits, owner, xattrs, zero mtime, symlinks) in every mode; and a served
 * object that is not what its name says is refused, saying why
 * (repo/verify-object.ts), in memory and streamed alike.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { lstat, readFile, readlink, writeFile } from 'node:fs/promises';
import { encodeArchiveHeader, encodeUserMeta, sha256Hex, type FileHeader } from '../../src/format/index.js';
import { readXattrs } from '../../src/io/index.js';
import {
  BadObjectError, Repo, StagingWriter, Transaction, contentChecksum, readFilezHeader, storedForm, verifiedFilezContent, verifyMetadata, type RepoMode,
} from '../../src/repo/index.js';
import { isRoot, tempDir } from '../helpers/env.js';

function filez(header: FileHeader, content: Buffer): Buffer {
  const isLink = (header.mode & 0o170000) === 0o120000;
  return Buffer.concat([encodeArchiveHeader(header, isLink ? 0 : content.length), isLink ? Buffer.alloc(0) : deflateRawSync(content)]);
}

/** What matters of a stored object (archive objects keep whatever mtime they got). */
async function describe(p: string, archive: boolean): Promise<Record<string, unknown>> {
  const st = await lstat(p);
  return {
    mode: st.mode.toString(8), size: st.size, uid: st.uid, gid: st.gid, mtime: archive ? null : st.mtimeMs,
    link: st.isSymbolicLink() ? await readlink(p) : null,
    body: st.isFile() ? (await readFile(p)).toString('base64') : null,
    xattrs: (await readXattrs(p)).map((x) => `${x.name}=${Buffer.from(x.value).toString('hex')}`).sort(),
  };
}

const samples: Array<{ name: string; header: FileHeader; content: Buffer; modes?: RepoMode[] }> = [
  { name: 'plain', header: { uid: 0, gid: 0, mode: 0o100644, rdev: 0, symlinkTarget: '', xattrs: [] }, content: Buffer.from('hello\n') },
  { name: 'exec', header: { uid: 0, gid: 0, mode: 0o100755, rdev: 0, symlinkTarget: '', xattrs: [] }, content: Buffer.alloc(70_000, 1) },
  { name: 'private', header: { uid: 0, gid: 0, mode: 0o100600, rdev: 0, symlinkTarget: '', xattrs: [] }, content: Buffer.alloc(0) },
  { name: 'suid', header: { uid: 0, gid: 0, mode: 0o104755, rdev: 0, symlinkTarget: '', xattrs: [] }, content: Buffer.from('#!/bin/sh\n'), modes: ['archive', 'bare-user', 'bare'] },
  { name: 'owned-xattr', header: { uid: 1000, gid: 1000, mode: 0o100640, rdev: 0, symlinkTarget: '', xattrs: [{ name: 'user.a', value: Buffer.from('b') }] }, content: Buffer.from('x'), modes: ['archive', 'bare-user', ...(isRoot ? ['bare' as const] : [])] },
  { name: 'link', header: { uid: 0, gid: 0, mode: 0o120777, rdev: 0, symlinkTarget: '../target', xattrs: [] }, content: Buffer.alloc(0) },
];

test('the stored form of each mode: archive header and deflate, bare owners and xattrs, bare-user metadata xattr, bare-user-only mode only', () => {
  const file: FileHeader = { uid: 1000, gid: 100, mode: 0o100750, rdev: 0, symlinkTarget: '', xattrs: [{ name: 'user.k', value: Buffer.from('v') }] };
  const link: FileHeader = { uid: 1000, gid: 100, mode: 0o120777, rdev: 0, symlinkTarget: 'target', xattrs: [] };
  const meta = (h: FileHeader): { name: string; value: Buffer } => ({ name: 'user.ostreemeta', value: encodeUserMeta(h.uid, h.gid, h.mode, h.xattrs) });

  assert.deepEqual(storedForm('archive', file, 12), { kind: 'archive', prefix: encodeArchiveHeader(file, 12), deflate: true, mode: 0o644 });
  assert.deepEqual(storedForm('archive', link, 0), { kind: 'archive', prefix: encodeArchiveHeader(link, 0), deflate: false, mode: 0o644 });
  assert.deepEqual(storedForm('bare', file, 12), { kind: 'file', body: null, mode: 0o750, owner: { uid: 1000, gid: 100 }, xattrs: file.xattrs });
  assert.deepEqual(storedForm('bare', link, 0), { kind: 'symlink', target: 'target', owner: { uid: 1000, gid: 100 }, xattrs: [] });
  // bare-user: the file readable by its owner, the real metadata in an xattr; a symlink is a file holding its target.
  assert.deepEqual(storedForm('bare-user', file, 12), { kind: 'file', body: null, mode: 0o750, owner: null, xattrs: [meta(file)] });
  assert.deepEqual(storedForm('bare-user', { ...file, mode: 0o104000 }, 12), { kind: 'file', body: null, mode: 0o400, owner: null, xattrs: [meta({ ...file, mode: 0o104000 })] });
  assert.deepEqual(storedForm('bare-user', link, 0), { kind: 'file', body: Buffer.from('target\0'), mode: 0o644, owner: null, xattrs: [meta(link)] });
  assert.deepEqual(storedForm('bare-user-only', file, 12), { kind: 'file', body: null, mode: 0o750, owner: null, xattrs: [] });
  assert.deepEqual(storedForm('bare-user-only', link, 0), { kind: 'symlink', target: 'target', owner: null, xattrs: [] });
  assert.throws(() => storedForm('bare-user-only', { ...file, mode: 0o104755 }, 1), /mode 04755/);
  assert.throws(() => storedForm('bare', { ...file, mode: 0o060644 }, 0), { code: 'E_UNSUPPORTED_FILE_TYPE' });
});

for (const mode of ['archive', 'bare-user', 'bare-user-only', 'bare'] as const) {
  test(`staged by the worker as by the transaction: ${mode}`, async (t) => {
    if (mode === 'bare' && !isRoot) {
      t.skip('a bare repository stores owners: needs root');
      return;
    }
    const dir = await tempDir(t);
    const repo = await Repo.init(path.join(dir, 'repo'), mode);
    const writer = new StagingWriter(repo);
    t.after(() => writer.close());
    const ref = await Transaction.begin(repo);
    const txn = await Transaction.begin(repo);
    t.after(async () => { await ref.abort(); await txn.abort(); });
    for (const s of samples) {
      if (s.modes && !s.modes.includes(mode)) continue;
      const data = filez(s.header, s.content);
      const isLink = (s.header.mode & 0o170000) === 0o120000;
      // The transaction's own writer, for reference.
      let checksum: string;
      if (mode === 'archive') {
        // An archive repository keeps a served object as it is: the transaction adopts the file.
        checksum = contentChecksum(s.header, s.content);
        const served = path.join(dir, `${s.name}.filez`);
        await writeFile(served, data);
        await ref.adoptArchivedContent(checksum, served);
      } else {
        checksum = await ref.writeContent(s.header, isLink ? { kind: 'symlink' } : { kind: 'buffer', data: s.content });
      }
      const dest = txn.stagedPath(checksum, 'file');
      await writer.write({ kind: 'filez', dest, checksum, data });
      assert.deepEqual(await describe(dest, mode === 'archive'), await describe(ref.stagedPath(checksum, 'file'), mode === 'archive'), `${s.name} in ${mode}`);
    }
    // Served bytes that are not what their name says.
    const good = samples[0];
    const data = filez(good.header, good.content);
    const checksum = contentChecksum(good.header, good.content);
    const flipped = Buffer.from(data);
    flipped[flipped.length - 2] ^= 0x10;
    const wrongName = checksum.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    for (const [bytes, name, why] of [
      [flipped, checksum, /inflate|does not match/],
      [data, wrongName, /does not match its name/],
      [data.subarray(0, 5), checksum, /shorter than|does not fit/],
    ] as const) {
      await assert.rejects(writer.write({ kind: 'filez', dest: txn.stagedPath(name, 'file'), checksum: name, data: bytes }), (e: unknown) => {
        assert.ok(e instanceof BadObjectError, String(e));
        assert.match(e.why, why);
        assert.equal(e.data.checksum, name);
        assert.equal(e.data.type, 'file');
        return true;
      });
    }
  });
}

test('a streamed archive object gets the mode of every archive object (0644), as a buffered one does', async (t) => {
  const dir = await tempDir(t);
  const repo = await Repo.init(path.join(dir, 'repo'), 'archive');
  const txn = await Transaction.begin(repo);
  t.after(() => txn.abort());
  const header: FileHeader = { uid: 0, gid: 0, mode: 0o100600, rdev: 0, symlinkTarget: '', xattrs: [] };
  const content = Buffer.alloc(3 * 1024 * 1024, 7);
  const streamed = await txn.writeContentStream(header, content.length, (async function* () { yield content; })(), 'a large file');
  const small = await txn.writeContent({ ...header, mode: 0o100644 }, { kind: 'buffer', data: Buffer.from('small') });
  assert.equal((await lstat(txn.stagedPath(streamed, 'file'))).mode & 0o7777, 0o644);
  assert.equal((await lstat(txn.stagedPath(small, 'file'))).mode & 0o7777, 0o644);
});

test('a bare-user-only repository refuses a setuid file, as the transaction does', async (t) => {
  const dir = await tempDir(t);
  const repo = await Repo.init(path.join(dir, 'repo'), 'bare-user-only');
  const writer = new StagingWriter(repo);
  t.after(() => writer.close());
  const txn = await Transaction.begin(repo);
  t.after(() => txn.abort());
  const s = samples[3];
  const checksum = contentChecksum(s.header, s.content);
  await assert.rejects(writer.write({ kind: 'filez', dest: txn.stagedPath(checksum, 'file'), checksum, data: filez(s.header, s.content) }), /mode 04755/);
});

test('the worker refuses xattrs a bare repository with core.disable-xattrs would not read back', async (t) => {
  if (!isRoot) {
    t.skip('a bare repository stores owners: needs root');
    return;
  }
  const dir = await tempDir(t);
  const repo = await Repo.init(path.join(dir, 'repo'), 'bare');
  repo.config.set('core', 'disable-xattrs', 'true');
  const writer = new StagingWriter(repo);
  t.after(() => writer.close());
  const txn = await Transaction.begin(repo);
  t.after(() => txn.abort());
  const s = samples[4];
  const checksum = contentChecksum(s.header, s.content);
  await assert.rejects(writer.write({ kind: 'filez', dest: txn.stagedPath(checksum, 'file'), checksum, data: filez(s.header, s.content) }), (e: unknown) => {
    assert.equal((e as { code?: string }).code, 'E_UNSUPPORTED_MODE');
    assert.match(String(e), /core\.disable-xattrs/);
    return true;
  });
});

test('verification carries its facts: the checksum a metadata object really has, and why a streamed .filez is refused', async (t) => {
  const dirtree = Buffer.from([0, 0]);
  const real = sha256Hex(dirtree);
  const name = real.replace(/^./, (c) => (c === '0' ? '1' : '0'));
  assert.throws(() => verifyMetadata(name, 'dirtree', dirtree), (e: unknown) => {
    assert.ok(e instanceof BadObjectError);
    assert.deepEqual(e.data, { checksum: name, type: 'dirtree', why: 'its content does not match its name', actual: real });
    return true;
  });
  assert.throws(() => verifyMetadata(sha256Hex(Buffer.from('x')), 'dirmeta', Buffer.from('x')), (e: unknown) => e instanceof BadObjectError && e.data.actual === undefined);

  const dir = await tempDir(t);
  const header: FileHeader = { uid: 0, gid: 0, mode: 0o100644, rdev: 0, symlinkTarget: '', xattrs: [] };
  const content = Buffer.alloc(200_000, 3);
  const checksum = contentChecksum(header, content);
  const drain = async (bytes: Buffer, as: string): Promise<void> => {
    const file = path.join(dir, 'spool.filez');
    await writeFile(file, bytes);
    const spooled = { path: file, size: bytes.length };
    for await (const _ of verifiedFilezContent(as, spooled, await readFilezHeader(as, spooled)));
  };
  await drain(filez(header, content), checksum);
  const longer = Buffer.concat([encodeArchiveHeader(header, content.length - 1), deflateRawSync(content)]);
  await assert.rejects(drain(longer, checksum), (e: unknown) => e instanceof BadObjectError && /inflates to more than the 199999 bytes/.test(e.why));
  const shorter = Buffer.concat([encodeArchiveHeader(header, content.length + 1), deflateRawSync(content)]);
  await assert.rejects(drain(shorter, checksum), (e: unknown) => e instanceof BadObjectError && /inflates to 200000 bytes, not 200001/.test(e.why));
  await assert.rejects(drain(filez(header, content), name), (e: unknown) => e instanceof BadObjectError && e.why === 'its content does not match its name' && e.data.actual === checksum);
});
