/**
 * Issue 18: fsck --verify-bindings, --verify-back-refs and --all, against
 * the real ostree on the same repository: the same error and exit status.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ok, ostree, ots, requireOstree, tempDir } from '../helpers/env.js';

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
