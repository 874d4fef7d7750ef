/**
 * Issue 18: `diff` of a commit against a directory (either way round, or two
 * directories), with --owner-uid, --owner-gid and --no-xattrs: the same
 * lines and exit status as the real ostree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { CLI, ok, ots, requireOstree, requireTool, run, tempDir } from '../helpers/env.js';

test('diff against a directory prints what ostree prints', async (t) => {
  if (!(await requireOstree(t)) || !(await requireTool(t, 'setfattr', 'attr'))) return;
  const dir = await tempDir(t, 'ots-diff-dir-');
  const tree = path.join(dir, 'tree');
  await mkdir(path.join(tree, 'sub'), { recursive: true });
  await writeFile(path.join(tree, 'a'), 'a\n');
  await writeFile(path.join(tree, 'sub', 'b'), 'b\n');
  await symlink('a', path.join(tree, 'link'));
  const repo = path.join(dir, 'repo');
  await ok(run('ostree', ['init', `--repo=${repo}`, '--mode=bare-user']));
  await ok(run('ostree', [`--repo=${repo}`, 'commit', '-b', 'main', '--timestamp=@1700000000', `--tree=dir=${tree}`]));
  const changed = path.join(dir, 'changed');
  await cp(tree, changed, { recursive: true, verbatimSymlinks: true });
  await writeFile(path.join(changed, 'a'), 'A\n');
  await rm(path.join(changed, 'sub', 'b'));
  await writeFile(path.join(changed, 'c'), 'c\n');
  await mkdir(path.join(changed, 'new'));
  await writeFile(path.join(changed, 'new', 'n'), 'n\n');
  const tagged = path.join(dir, 'tagged');
  await cp(tree, tagged, { recursive: true, verbatimSymlinks: true });
  await ok(run('setfattr', ['-n', 'user.note', '-v', 'x', path.join(tagged, 'a')]));
  const cases = [
    ['main', `./${path.relative(dir, tree)}`],
    ['main', `./${path.relative(dir, changed)}`],
    [`./${path.relative(dir, changed)}`, 'main'],
    ['--owner-uid=5', 'main', changed],
    ['--owner-gid=7', 'main', changed],
    ['main', tagged],
    ['--no-xattrs', 'main', tagged],
    [tree, changed],
    ['main', path.join(dir, 'missing')],
    ['--stats', 'main', changed],
  ];
  for (const args of cases) {
    const theirs = await run('ostree', [`--repo=${repo}`, 'diff', ...args], { cwd: dir });
    const ours = await run(process.execPath, [CLI, `--repo=${repo}`, 'diff', ...args], { cwd: dir });
    assert.equal(ours.code, theirs.code, `diff ${args.join(' ')}: exit status (ours: ${ours.stderr})`);
    assert.equal(ours.stdout, theirs.stdout, `diff ${args.join(' ')}`);
  }
  // Something to see: the changed tree's lines, and the xattr seen unless left out.
  assert.match(await ok(ots(`--repo=${repo}`, 'diff', 'main', changed)), /^M {4}\/a\nD {4}\/sub\/b\nA {4}c\n/);
  assert.match(await ok(ots(`--repo=${repo}`, 'diff', 'main', tagged)), /^M {4}\/a$/m);
  assert.equal(await ok(ots(`--repo=${repo}`, 'diff', '--no-xattrs', 'main', tagged)), '');
});
