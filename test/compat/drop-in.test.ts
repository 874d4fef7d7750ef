/**
 * Issue 18: scripts written for ostree run unchanged. Each case runs the same
 * command line through the real ostree and through ostree-ts and compares
 * what a script reads (stdout, exit status).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { CLI, ok, ostree, ots, requireOstree, requireTool, run, tempDir } from '../helpers/env.js';

test('--version is ostree\'s YAML document, with the features this program has', async (t) => {
  if (!(await requireOstree(t))) return;
  const ours = await ok(ots('--version'));
  const theirs = await ok(ostree('--version'));
  // The same shape: a libostree mapping with Version and a Features list.
  const shape = /^libostree:\n Version: '([^']+)'\n Features:\n((?:  - [a-z0-9-]+\n)+)/;
  assert.match(theirs, shape);
  const m = shape.exec(ours);
  assert.ok(m, `ostree-ts --version:\n${ours}`);
  assert.equal(m[1], '2022.7');
  const features = m[2].trim().split('\n').map((l) => l.replace(/^\s*- /, ''));
  // The checks scripts make: GPG verification is there, libcurl/libsoup and SELinux are not claimed.
  assert.ok(features.includes('gpgme'), features.join(','));
  for (const absent of ['selinux', 'avahi', 'libmount']) assert.ok(!features.includes(absent), `${absent} is not claimed`);
});

test('checksum: the same answer as ostree for files, symlinks, directories, with and without xattrs', async (t) => {
  if (!(await requireOstree(t))) return;
  if (!(await requireTool(t, 'setfattr', 'attr'))) return;
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'plain'), 'hello\n');
  await writeFile(path.join(dir, 'tagged'), 'hello with xattrs\n');
  await ok(run('setfattr', ['-n', 'user.checksum-test', '-v', 'value', path.join(dir, 'tagged')]));
  await writeFile(path.join(dir, 'empty'), '');
  await writeFile(path.join(dir, 'big'), Buffer.alloc(3 * 1024 * 1024, 7));
  await symlink('plain', path.join(dir, 'link'));
  await mkdir(path.join(dir, 'sub'), { mode: 0o750 });
  for (const name of ['plain', 'tagged', 'empty', 'big', 'link', 'sub', '.']) {
    for (const extra of [[], ['--ignore-xattrs']]) {
      const p = path.join(dir, name);
      const theirs = await ostree('checksum', ...extra, p);
      const ours = await ots('checksum', ...extra, p);
      assert.equal(ours.code, theirs.code, `${name} ${extra.join(' ')}: exit status`);
      assert.equal(ours.stdout, theirs.stdout, `${name} ${extra.join(' ')}`);
    }
  }
  const missing = path.join(dir, 'missing');
  const [a, b] = [await ostree('checksum', missing), await ots('checksum', missing)];
  assert.equal(b.code, a.code, 'a missing path: the same exit status');
  assert.equal(b.stdout, '');
  assert.match(b.stderr, /missing does not exist/);
});

test('commit with no path commits the current directory, as ostree does', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const tree = path.join(dir, 'tree');
  await mkdir(path.join(tree, 'usr', 'bin'), { recursive: true });
  await writeFile(path.join(tree, 'usr', 'bin', 'tool'), '#!/bin/sh\necho tool\n', { mode: 0o755 });
  await writeFile(path.join(tree, 'README'), 'a tree\n');
  const repos = { ours: path.join(dir, 'ours'), theirs: path.join(dir, 'theirs') };
  await ok(ots('init', `--repo=${repos.ours}`, '--mode=archive'));
  await ok(ostree('init', `--repo=${repos.theirs}`, '--mode=archive'));
  const args = (repo: string): string[] => [`--repo=${repo}`, 'commit', '-b', 'main', '-s', 'msg', '--timestamp=@1700000000', '--owner-uid=0', '--owner-gid=0'];
  const ours = await ok(run(process.execPath, [CLI, ...args(repos.ours)], { cwd: tree }));
  const theirs = await ok(run('ostree', args(repos.theirs), { cwd: tree }));
  assert.equal(ours.trim(), theirs.trim(), 'the same commit from the current directory');
  await ok(ostree(`--repo=${repos.ours}`, 'fsck'));
});
