/**
 * Issue 14, defects 5 and 7: the free-space floor (core.min-free-space-size
 * and -percent) and a full filesystem.
 *
 * Before the fix the floor was ignored (a commit filled the filesystem to the
 * last block) and ENOSPC came out as `write : ENOSPC`, naming no file; inode
 * exhaustion was reported as ENOENT. Now a commit stops at the floor with
 * libostree's words, as the real ostree does on the same filesystem with the
 * same config, and both leave the repository clean for both fscks (and so
 * do pull, pull-local and static-delta apply-offline); a full
 * filesystem (blocks or inodes) is one E_NO_SPACE error naming the file and
 * what is left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { KeyFile } from '../../src/format/keyfile.js';
import { readMinFreeSpace } from '../../src/repo/free-space.js';
import { ok, ostree, ots, requireOstree, tempDir } from '../helpers/env.js';
import { serveRepo } from '../helpers/serve.js';
import { smallFs } from '../helpers/small-fs.js';

const cfg = (lines: string): KeyFile => KeyFile.parse(`[core]\nrepo_version=1\nmode=archive-z2\n${lines}`, 'REPO/config');

test('min-free-space-size and -percent are read as libostree reads them', () => {
  assert.deepEqual(readMinFreeSpace(cfg(''), 'c'), { kind: 'percent', percent: 3 }, 'default: 3%');
  assert.deepEqual(readMinFreeSpace(cfg('min-free-space-size=500MB\n'), 'c'), { kind: 'size', mb: 500 });
  assert.deepEqual(readMinFreeSpace(cfg('min-free-space-size=2GB\n'), 'c'), { kind: 'size', mb: 2048 });
  assert.deepEqual(readMinFreeSpace(cfg('min-free-space-size=1TB\n'), 'c'), { kind: 'size', mb: 1024 * 1024 });
  assert.deepEqual(readMinFreeSpace(cfg('min-free-space-percent=10\nmin-free-space-size=20MB\n'), 'c'), { kind: 'size', mb: 20 }, 'the size wins');
  assert.deepEqual(readMinFreeSpace(cfg('min-free-space-percent=7\n'), 'c'), { kind: 'percent', percent: 7 });
  assert.deepEqual(readMinFreeSpace(cfg('min-free-space-percent=0\n'), 'c'), { kind: 'none' });
  assert.deepEqual(readMinFreeSpace(cfg('min-free-space-size=0MB\n'), 'c'), { kind: 'none' }, 'a size alone turns the default percentage off');
  for (const bad of ['500', '500M', '500mb', '1.5GB', '500 MB', '-1MB', '5KB', '']) {
    assert.throws(() => readMinFreeSpace(cfg(`min-free-space-size=${bad}\n`), 'REPO/config'),
      (e: Error & { code?: string }) => e.code === 'E_REPO_CONFIG' && e.message.startsWith(`Invalid min-free-space-size '${bad}': It should be of the format '123MB', '123GB' or '123TB'`), bad);
  }
  assert.throws(() => readMinFreeSpace(cfg('min-free-space-size=99999999999999999TB\n'), 'c'), /Value was too high/);
  assert.throws(() => readMinFreeSpace(cfg('min-free-space-percent=abc\n'), 'c'), /Invalid min-free-space-percent 'abc': must be a number/);
  assert.throws(() => readMinFreeSpace(cfg('min-free-space-percent=100\n'), 'c'), /Invalid min-free-space-percent '100'/);
});

/** `n` files of `size` incompressible bytes. */
async function makeTree(dir: string, n: number, size: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < n; i++) {
    const b = Buffer.alloc(size);
    for (let j = 0; j < size; j += 32) createHash('sha256').update(`${i} ${j}`).digest().copy(b, j);
    await writeFile(path.join(dir, `f${i}`), b);
  }
}

async function bothFsckClean(repo: string, label: string): Promise<void> {
  const a = await ots(`--repo=${repo}`, 'fsck');
  assert.equal(a.code, 0, `${label}: ostree-ts fsck: ${a.stdout}${a.stderr}`);
  const b = await ostree('fsck', `--repo=${repo}`);
  assert.equal(b.code, 0, `${label}: ostree fsck: ${b.stdout}${b.stderr}`);
}

test('a commit stops at the free-space floor with libostree\'s message, as the real ostree does, and the repository stays clean', async (t) => {
  if (!(await requireOstree(t))) return;
  const fs = await smallFs(t, '8m');
  if (!fs) return;
  const dir = await tempDir(t);
  // 5 MB of content on an 8 MB filesystem.
  const tree = path.join(dir, 'tree');
  await makeTree(tree, 50, 100 * 1024);
  const floors: Array<[string, RegExp]> = [
    ['min-free-space-size=6MB', /min-free-space-size 6MB would be exceeded, at least \d+(\.\d)?\s(kB|MB) requested/],
    ['min-free-space-percent=50', /min-free-space-percent '50%' would be exceeded, at least \d+(\.\d)?\s(kB|MB) requested/],
  ];
  for (const mode of ['archive', 'bare-user'] as const) {
    for (const [setting, message] of floors) {
      const label = `${mode}, ${setting}`;
      const ours = path.join(fs.dir, 'ours');
      const theirs = path.join(fs.dir, 'theirs');
      for (const [repo, tool] of [[ours, ots], [theirs, ostree]] as const) {
        await ok(tool('init', `--repo=${repo}`, `--mode=${mode}`));
        await appendFile(path.join(repo, 'config'), `${setting}\n`);
      }
      // One after the other, each with the whole filesystem to itself.
      const r = await ots(`--repo=${ours}`, 'commit', '-b', 'os', `--tree=dir=${tree}`);
      assert.equal(r.code, 1, `${label}: ostree-ts commit stops: ${r.stderr}`);
      assert.match(r.stderr, message, label);
      assert.match(r.stderr, new RegExp(`writing .* into ${ours}, whose filesystem had .* free when the transaction began\\). Free some space there, or lower core\\.min-free-space-`), label);
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${label}: no stack trace`);
      assert.equal((await ots(`--repo=${ours}`, 'refs')).stdout.trim(), '', `${label}: no ref`);
      assert.deepEqual((await readdir(path.join(ours, 'tmp'))).filter((n) => n.startsWith('staging-')), [], `${label}: the staging directory is gone`);
      await bothFsckClean(ours, `${label} (ostree-ts's repository)`);
      await rm(ours, { recursive: true, force: true });

      const o = await ostree(`--repo=${theirs}`, 'commit', '-b', 'os', `--tree=dir=${tree}`);
      assert.notEqual(o.code, 0, `${label}: the real ostree stops too`);
      assert.match(o.stderr, message, `${label}: the same words`);
      await bothFsckClean(theirs, `${label} (ostree's repository)`);
      await rm(theirs, { recursive: true, force: true });
    }
  }
  // With the floor off, the same commit fits.
  const repo = path.join(fs.dir, 'nofloor');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  await appendFile(path.join(repo, 'config'), 'min-free-space-percent=0\n');
  await ok(ots(`--repo=${repo}`, 'commit', '-b', 'os', `--tree=dir=${tree}`));
  await bothFsckClean(repo, 'no floor');
});

test('a full filesystem during a commit is E_NO_SPACE naming the file and the space left; no inode left is not ENOENT', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const tree = path.join(dir, 'tree');
  await makeTree(tree, 40, 100 * 1024);
  {
    // Blocks: 4 MB of content on a 2 MB filesystem, with the floor off so the disk itself fills.
    const fs = await smallFs(t, '2m');
    if (!fs) return;
    const repo = path.join(fs.dir, 'repo');
    await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
    await appendFile(path.join(repo, 'config'), 'min-free-space-percent=0\n');
    const r = await ots(`--repo=${repo}`, 'commit', '-b', 'os', `--tree=dir=${tree}`);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^error: No space left on the device while committing into ${repo}: writing ${repo}/tmp/\\S+ failed with ENOSPC \\(\\d+(\\.\\d)?\\s(bytes|kB) free, \\d+ inodes free\\)\\. Free some space`), r.stderr);
    assert.doesNotMatch(r.stderr, /This is a bug|\n\s+at /);
    assert.equal((await ots(`--repo=${repo}`, 'refs')).stdout.trim(), '');
    await bothFsckClean(repo, 'blocks');
  }
  {
    // Inodes: room for the bytes, not for the files.
    const fs = await smallFs(t, '32m', 40);
    if (!fs) return;
    const repo = path.join(fs.dir, 'repo');
    await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
    const r = await ots(`--repo=${repo}`, 'commit', '-b', 'os', `--tree=dir=${tree}`);
    assert.equal(r.code, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /ENOENT/, `inode exhaustion is not reported as a missing file: ${r.stderr}`);
    assert.match(r.stderr, /^error: No space left on the device while committing into .*failed with ENOSPC \(.* free, and no inodes left \(no new file can be created\)\)/, r.stderr);
    assert.doesNotMatch(r.stderr, /This is a bug|\n\s+at /);
    await bothFsckClean(repo, 'inodes');
  }
});

test('pull, pull-local and static-delta apply-offline stop at the floor too, as the real ostree pull-local does', async (t) => {
  if (!(await requireOstree(t))) return;
  const fs = await smallFs(t, '8m');
  if (!fs) return;
  const dir = await tempDir(t);
  const tree = path.join(dir, 'tree');
  await makeTree(tree, 50, 100 * 1024);
  const source = path.join(dir, 'source');
  await ok(ots('init', `--repo=${source}`, '--mode=archive'));
  await ok(ots(`--repo=${source}`, 'commit', '-b', 'os', `--tree=dir=${tree}`));
  await ok(ots(`--repo=${source}`, 'summary', '-u'));
  // From scratch, every object in the parts (no fallbacks), uncompressed.
  await ok(ots(`--repo=${source}`, 'static-delta', 'generate', '--empty', '--to=os', '--compression=none', '--min-fallback-size=0'));
  const [prefix] = await readdir(path.join(source, 'deltas'));
  const [rest] = await readdir(path.join(source, 'deltas', prefix));
  const delta = path.join(source, 'deltas', prefix, rest);
  const web = await serveRepo(t, source, dir);
  const floor = /min-free-space-size 6MB would be exceeded, at least \d+(\.\d)?\s(kB|MB) requested/;

  const cases: Array<[string, typeof ots, (repo: string) => string[]]> = [
    ['ostree-ts pull-local', ots, (repo) => [`--repo=${repo}`, 'pull-local', source, 'os']],
    ['ostree-ts pull', ots, (repo) => [`--repo=${repo}`, 'pull', 'web', 'os']],
    ['ostree-ts static-delta apply-offline', ots, (repo) => [`--repo=${repo}`, 'static-delta', 'apply-offline', delta]],
    ['ostree pull-local', ostree, (repo) => [`--repo=${repo}`, 'pull-local', source, 'os']],
  ];
  for (const [label, tool, args] of cases) {
    const repo = path.join(fs.dir, 'repo');
    await ok(tool('init', `--repo=${repo}`, '--mode=bare-user'));
    await appendFile(path.join(repo, 'config'), 'min-free-space-size=6MB\n');
    await ok(ots(`--repo=${repo}`, 'remote', 'add', '--no-gpg-verify', 'web', web.url));
    const r = await tool(...args(repo));
    assert.notEqual(r.code, 0, `${label} stops at the floor`);
    assert.match(r.stderr, floor, `${label}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /This is a bug|\n\s+at /, label);
    assert.equal((await ots(`--repo=${repo}`, 'refs')).stdout.trim(), '', `${label}: no ref`);
    await bothFsckClean(repo, label);
    await rm(repo, { recursive: true, force: true });
  }
});

test('a checkout onto a full filesystem is E_NO_SPACE naming the checkout and the file', async (t) => {
  const dir = await tempDir(t);
  const tree = path.join(dir, 'tree');
  await makeTree(tree, 30, 100 * 1024);
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  await ok(ots(`--repo=${repo}`, 'commit', '-b', 'os', `--tree=dir=${tree}`));
  const fs = await smallFs(t, '1m');
  if (!fs) return;
  const dest = path.join(fs.dir, 'out');
  const r = await ots(`--repo=${repo}`, 'checkout', 'os', dest);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^error: No space left on the device while checking out os to ${dest}: writing ${dest}/f\\d+ failed with ENOSPC \\(`), r.stderr);
  assert.doesNotMatch(r.stderr, /This is a bug|\n\s+at /);
});
