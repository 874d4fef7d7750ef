/**
 * Issue 18: fsck --verify-bindings, --verify-back-refs and --all, against
 * the real ostree on the same repository: the same error and exit status.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ok, ostree, ots, requireOstree, run, tempDir } from '../helpers/env.js';

function errorLines(s: string): string[] {
  return s.split('\n').filter((l) => l.startsWith('error:'));
}

test('fsck --verify-bindings and --verify-back-refs report what ostree reports', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  const tree = path.join(dir, 'tree');
  await mkdir(tree);
  await writeFile(path.join(tree, 'f'), 'x\n');
  await ok(ostree('init', `--repo=${repo}`, '--mode=archive'));
  await ok(ostree(`--repo=${repo}`, 'commit', '-b', 'main', '--timestamp=@1700000000', tree));
  await ok(ostree(`--repo=${repo}`, 'commit', '-b', 'unbound', '--no-bindings', '--timestamp=@1700000001', tree));
  const same = async (...args: string[]): Promise<void> => {
    const theirs = await ostree(`--repo=${repo}`, 'fsck', ...args);
    const ours = await ots(`--repo=${repo}`, 'fsck', ...args);
    assert.equal(ours.code, theirs.code, `fsck ${args.join(' ')}: exit status`);
    assert.deepEqual(errorLines(ours.stderr), errorLines(theirs.stderr), `fsck ${args.join(' ')}`);
  };
  await same('--verify-bindings');
  await same('--all');
  await same('-a', '--verify-back-refs');
  // A ref pointing at a commit bound to another ref.
  await ok(ostree(`--repo=${repo}`, 'refs', '--create=copy', 'main'));
  await same('--verify-bindings');
  await ok(ostree(`--repo=${repo}`, 'refs', '--delete', 'copy'));
  // A commit bound to a ref that does not exist.
  await ok(ostree(`--repo=${repo}`, 'commit', '-b', 'two', '--bind-ref=gone', '--timestamp=@1700000002', tree));
  await same('--verify-bindings');
  await same('--verify-back-refs');
});

test('fsck --add-tombstones deletes and tombstones each commit whose parent is missing, as ostree does', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const tree = path.join(dir, 'tree');
  await mkdir(tree);
  const results: Record<string, { out: string; code: number | null; files: string[]; config: string }> = {};
  for (const [name, tool] of [['ostree', ostree], ['ostree-ts', ots]] as const) {
    const repo = path.join(dir, `repo-${name}`);
    await ok(ostree('init', `--repo=${repo}`, '--mode=archive'));
    const commits: string[] = [];
    for (const i of [1, 2, 3]) {
      await writeFile(path.join(tree, 'f'), `${i}\n`);
      commits.push(await ok(ostree(`--repo=${repo}`, 'commit', '-b', 'main', `--timestamp=@170000000${i}`, tree)));
    }
    // The first commit goes missing: the second is now an orphan.
    await rm(path.join(repo, 'objects', commits[0].slice(0, 2), `${commits[0].slice(2)}.commit`));
    const r = await tool(`--repo=${repo}`, 'fsck', '--add-tombstones');
    const files = (await run('find', [path.join(repo, 'objects'), '-name', '*.commit', '-o', '-name', '*.tombstone-commit'])).stdout
      .split('\n').filter(Boolean).map((f) => path.relative(repo, f)).sort();
    results[name] = { out: r.stdout.split('\n').filter((l) => /^Adding tombstone|^object fsck/.test(l)).join('\n'), code: r.code, files, config: await readFile(path.join(repo, 'config'), 'utf8') };
    assert.match(results[name].out, new RegExp(`^Adding tombstone for commit ${commits[1]}$`, 'm'), name);
    assert.ok(files.includes(`objects/${commits[1].slice(0, 2)}/${commits[1].slice(2)}.tombstone-commit`), `${name}: ${files.join(' ')}`);
  }
  assert.deepEqual(results['ostree-ts'], results.ostree);
  // Our tombstones pass the real fsck.
  await ok(ostree(`--repo=${path.join(dir, 'repo-ostree-ts')}`, 'fsck'));
});
