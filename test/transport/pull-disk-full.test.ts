/**
 * Issue 14, defects 2 and 5: a pull whose disk fills while a large object
 * (over the spool limit) is written to its spool file stops by itself with
 * one clean error (E_NO_SPACE: the operation, the file, the space left), no
 * MaxListenersExceededWarning and no stack trace; the repository stays clean
 * for both fscks, and once there is room again the same pull completes.
 * Before the fix the paused socket was never resumed and the pull hung.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { CLI, ok, ostree, ots, requireOstree, tempDir } from '../helpers/env.js';
import { serveRepo } from '../helpers/serve.js';
import { runBounded, smallFs } from '../helpers/small-fs.js';

/** Long enough for any pull of this test on a loaded machine; only a hang reaches it. */
const GUARD_MS = 60_000;

test('a disk that fills while a large object is spooled: the pull stops at once with E_NO_SPACE, and resumes once there is room', async (t) => {
  if (!(await requireOstree(t))) return;
  const fs = await smallFs(t, '4m');
  if (!fs) return;
  const dir = await tempDir(t);
  const tree = path.join(dir, 'tree');
  await mkdir(tree, { recursive: true });
  // Incompressible: the served object is as large as the file, beyond the 4 MiB spool limit and the filesystem.
  const big = Buffer.alloc(6 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 32) createHash('sha256').update(`block ${i}`).digest().copy(big, i);
  await writeFile(path.join(tree, 'big.bin'), big);
  for (let i = 0; i < 20; i++) await writeFile(path.join(tree, `small-${i}`), `small file ${i}\n`);
  const upstream = path.join(dir, 'upstream');
  await ok(ots('init', `--repo=${upstream}`, '--mode=archive'));
  const checksum = await ok(ots(`--repo=${upstream}`, 'commit', '-b', 'os', `--tree=dir=${tree}`));
  await ok(ots(`--repo=${upstream}`, 'summary', '-u'));
  const web = await serveRepo(t, upstream, dir);

  for (const mode of ['archive', 'bare-user'] as const) {
    const repo = path.join(fs.dir, `client-${mode}`);
    await ok(ots('init', `--repo=${repo}`, `--mode=${mode}`));
    await ok(ots(`--repo=${repo}`, 'remote', 'add', '--no-gpg-verify', 'web', web.url));
    const r = await runBounded(process.execPath, [CLI, `--repo=${repo}`, 'pull', 'web', 'os'], GUARD_MS);
    assert.equal(r.hung, false, `${mode}: the pull ended by itself (it hung before the fix):\n${r.stderr}`);
    assert.equal(r.code, 1, `${mode}: the pull fails: ${r.stderr}`);
    assert.match(r.stderr, /error: No space left on the device while pulling from remote 'web' into .*: writing .* failed with ENOSPC \(\d+(\.\d)?\s(bytes|kB|MB) free/, `${mode}: ${r.stderr}`);
    assert.match(r.stderr, /pull again: what was already stored is kept/, mode);
    assert.doesNotMatch(r.stderr, /MaxListenersExceededWarning/, `${mode}: one drain listener, not one per chunk`);
    assert.doesNotMatch(r.stderr, /This is a bug|unexpected failure|\n\s+at /, `${mode}: no internal error, no stack trace`);
    assert.notEqual((await ots(`--repo=${repo}`, 'rev-parse', 'web:os')).code, 0, `${mode}: no ref was written`);
    const f1 = await ots(`--repo=${repo}`, 'fsck');
    assert.equal(f1.code, 0, `${mode}: ostree-ts fsck: ${f1.stdout}${f1.stderr}`);
    const f2 = await ostree('fsck', `--repo=${repo}`);
    assert.equal(f2.code, 0, `${mode}: ostree fsck: ${f2.stdout}${f2.stderr}`);
    assert.deepEqual((await readdir(path.join(repo, 'tmp'))).filter((n) => n.startsWith('pull-')), [], `${mode}: no spool file left`);

    // Room again: the same pull completes.
    await fs.resize('64m');
    const again = await runBounded(process.execPath, [CLI, `--repo=${repo}`, 'pull', 'web', 'os'], GUARD_MS);
    assert.equal(again.code, 0, `${mode}: the pull completes once there is room: ${again.stderr}`);
    assert.equal(await ok(ots(`--repo=${repo}`, 'rev-parse', 'web:os')), checksum);
    const g1 = await ots(`--repo=${repo}`, 'fsck');
    assert.equal(g1.code, 0, `${mode}: ostree-ts fsck after the rerun: ${g1.stdout}${g1.stderr}`);
    const g2 = await ostree('fsck', `--repo=${repo}`);
    assert.equal(g2.code, 0, `${mode}: ostree fsck after the rerun: ${g2.stdout}${g2.stderr}`);
    await ok(ots(`--repo=${repo}`, 'checkout', 'web:os', path.join(dir, `out-${mode}`)));
    // Small again for the next mode (the repository just pulled is removed first).
    await rm(repo, { recursive: true, force: true });
    await fs.resize('4m');
  }
});
