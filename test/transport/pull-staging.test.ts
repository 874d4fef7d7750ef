/**
 * The worker that stages pulled objects writes each content object exactly
 * as the transaction's own writer does (mode bits, owner, xattrs, zero
 * mtime, symlinks), in every repository mode, and refuses a served object
 * that is not what its name says, saying why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { lstat, readFile, readlink } from 'node:fs/promises';
import { encodeArchiveHeader, type FileHeader } from '../../src/format/index.js';
import { readXattrs } from '../../src/io/index.js';
import { BadObjectError, Repo, StagingWriter, Transaction, contentChecksum, type RepoMode } from '../../src/repo/index.js';
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
        checksum = contentChecksum(s.header, s.content);
        await ref.writeArchivedContent(checksum, data);
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
        assert.match((e as BadObjectError).why, why);
        return true;
      });
    }
  });
}

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
