/**
 * Issue 5 (first part): ostree-ts pulls from a repository written by the real
 * ostree and served over HTTP, into bare-user and archive repositories; both
 * fscks are clean. A flipped byte in a served object stops the pull naming
 * the object, moves no ref and leaves fsck clean; an honest pull then works.
 * The remote's signature policy is enforced before content is fetched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { readFile, writeFile, copyFile } from 'node:fs/promises';
import { ok, ostree, ots, requireOstree, run, tempDir } from '../helpers/env.js';
import { serveRepo } from '../helpers/serve.js';
import { makeRichTree, makeXattrTree } from '../helpers/trees.js';

test('ostree-ts pulls what the real ostree wrote; corrupt objects stop the pull cleanly', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const src = path.join(dir, 'tree');
  await makeRichTree(src);
  await makeXattrTree(path.join(src, 'x'));
  const upstream = path.join(dir, 'upstream');
  await ok(ostree('init', `--repo=${upstream}`, '--mode=archive'));
  const checksum = await ok(ostree(`--repo=${upstream}`, 'commit', '-b', 'os/stable', `--tree=dir=${src}`));
  await ok(ostree(`--repo=${upstream}`, 'summary', '-u'));
  const { url } = await serveRepo(t, upstream, dir);
  for (const mode of ['bare-user', 'archive'] as const) {
    const local = path.join(dir, `local-${mode}`);
    await ok(ots('init', `--repo=${local}`, `--mode=${mode}`));
    await ok(ots(`--repo=${local}`, 'remote', 'add', '--no-gpg-verify', 'origin', url));
    await ok(ots(`--repo=${local}`, 'pull', 'origin', 'os/stable'), `pull into ${mode}`);
    assert.equal(await ok(ots(`--repo=${local}`, 'rev-parse', 'origin:os/stable')), checksum);
    assert.equal((await ots(`--repo=${local}`, 'fsck')).code, 0);
    const f = await ostree('fsck', `--repo=${local}`);
    assert.equal(f.code, 0, f.stderr);
    // The pulled tree checks out identical to the upstream's.
    const a = path.join(dir, `co-ours-${mode}`);
    const b = path.join(dir, `co-theirs-${mode}`);
    await ok(ots(`--repo=${local}`, 'checkout', '-U', 'origin:os/stable', a));
    await ok(ostree(`--repo=${upstream}`, 'checkout', '-U', 'os/stable', b));
    await ok(run('diff', ['-r', '--no-dereference', a, b]));
  }
  // A flipped byte in one served content object.
  const hostile = path.join(dir, 'hostile');
  await ok(run('cp', ['-a', upstream, hostile]));
  const ls = await ok(ostree(`--repo=${upstream}`, 'ls', '-C', 'os/stable', '/hello.txt'));
  const fileSum = ls.split(/\s+/).find((w) => /^[0-9a-f]{64}$/.test(w)) as string;
  const obj = path.join(hostile, 'objects', fileSum.slice(0, 2), `${fileSum.slice(2)}.filez`);
  const bytes = await readFile(obj);
  bytes[bytes.length - 3] ^= 0x40;
  await writeFile(obj, bytes);
  const { url: hostileUrl } = await serveRepo(t, hostile, dir);
  const victim = path.join(dir, 'victim');
  await ok(ots('init', `--repo=${victim}`, '--mode=bare-user'));
  await ok(ots(`--repo=${victim}`, 'remote', 'add', '--no-gpg-verify', 'evil', hostileUrl));
  const r = await ots(`--repo=${victim}`, 'pull', 'evil', 'os/stable');
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`bad file object ${fileSum}`));
  assert.equal(await ok(ots(`--repo=${victim}`, 'refs')), '', 'no ref moved');
  assert.equal((await ostree('fsck', `--repo=${victim}`)).code, 0, 'fsck clean after the refused pull');
  // The server is repaired; the same pull now completes.
  await copyFile(path.join(upstream, 'objects', fileSum.slice(0, 2), `${fileSum.slice(2)}.filez`), obj);
  await ok(ots(`--repo=${victim}`, 'pull', 'evil', 'os/stable'));
  assert.equal(await ok(ots(`--repo=${victim}`, 'rev-parse', 'evil:os/stable')), checksum);
  assert.equal((await ostree('fsck', `--repo=${victim}`)).code, 0);
});

test('a remote requiring signatures: an unsigned commit is refused before any content is fetched', async (t) => {
  const dir = await tempDir(t);
  const src = path.join(dir, 'tree');
  await makeRichTree(src);
  const upstream = path.join(dir, 'upstream');
  await ok(ots('init', `--repo=${upstream}`, '--mode=archive'));
  const keys = path.join(dir, 'keys');
  await ok(ots('sign', 'generate', `--out=${keys}`));
  const signed = await ok(ots(`--repo=${upstream}`, 'commit', '-b', 'signed', `--tree=dir=${src}`, `--keys-file=${path.join(keys, 'secret.ed25519')}`));
  await ok(ots(`--repo=${upstream}`, 'commit', '-b', 'unsigned', `--tree=dir=${src}`));
  await ok(ots(`--repo=${upstream}`, 'summary', '-u', `--keys-file=${path.join(keys, 'secret.ed25519')}`));
  const local = path.join(dir, 'local');
  await ok(ots('init', `--repo=${local}`, '--mode=bare-user'));
  await ok(ots(`--repo=${local}`, 'remote', 'add', '--no-gpg-verify', '--set=sign-verify=true', '--set=sign-verify-summary=true',
    `--set=verification-ed25519-file=${path.join(keys, 'public.ed25519')}`, 'origin', `file://${upstream}`));
  const r = await ots(`--repo=${local}`, 'pull', 'origin', 'unsigned');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /has no ed25519 signature.*remote 'origin'.*sign-verify/);
  const objects = (await run('sh', ['-c', `find ${local}/objects -type f | wc -l`])).stdout.trim();
  assert.equal(objects, '0', 'no content fetched for a refused commit');
  await ok(ots(`--repo=${local}`, 'pull', 'origin', 'signed'));
  assert.equal(await ok(ots(`--repo=${local}`, 'rev-parse', 'origin:signed')), signed);
});
