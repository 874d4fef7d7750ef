/**
 * Issue 2, acceptance 1: the same tree committed with the same timestamp,
 * subject and metadata gives the same checksum in ostree-ts and in the real
 * ostree, in every repository mode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { MODES, ok, ostree, ots, requireOstree, tempDir } from '../helpers/env.js';
import { makeBasicTree, makeOwnedTree, makeRichTree, makeXattrTree } from '../helpers/trees.js';

const TREES: Array<[string, (root: string) => Promise<string>]> = [
  ['basic', makeBasicTree],
  ['rich', makeRichTree],
  ['xattrs', makeXattrTree],
  ['owned', makeOwnedTree],
];

const COMMIT_ARGS = [
  '--timestamp=@1700000000', '-s', 'fixture subject', '-m', 'body\nsecond line',
  '--add-metadata-string=version=1.2.3', '--add-metadata=answer=uint32 42', "--add-metadata=list=['x', 'y']",
];

async function bothCommit(dir: string, mode: string, tree: string, extra: string[]): Promise<[string, string]> {
  const a = path.join(dir, `ots-${mode}`);
  const b = path.join(dir, `ostree-${mode}`);
  await ok(ots('init', `--repo=${a}`, `--mode=${mode}`));
  await ok(ostree('init', `--repo=${b}`, `--mode=${mode}`));
  const args = ['commit', '-b', 'fixture/main', `--tree=dir=${tree}`, ...COMMIT_ARGS, ...extra];
  const ours = await ok(ots(`--repo=${a}`, ...args), 'ostree-ts commit');
  const theirs = await ok(ostree(`--repo=${b}`, ...args), 'ostree commit');
  return [ours, theirs];
}

for (const [name, make] of TREES) {
  test(`commit checksums equal the real ostree's: ${name} tree, every mode`, async (t) => {
    if (!(await requireOstree(t))) return;
    const dir = await tempDir(t);
    const tree = await make(path.join(dir, 'tree'));
    for (const mode of MODES) {
      const [ours, theirs] = await bothCommit(path.join(dir, name), mode, tree, []);
      assert.match(ours, /^[0-9a-f]{64}$/);
      assert.equal(ours, theirs, `${name} in ${mode}`);
    }
  });
}

test('commit checksums agree with --owner-uid/--owner-gid, --no-xattrs, --orphan and --no-bindings', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const tree = await makeXattrTree(path.join(dir, 'tree'));
  await makeBasicTree(path.join(tree, 'nested-basic')).catch(async () => {
    await mkdir(path.join(tree, 'nested-basic'));
  });
  const variants: string[][] = [
    ['--owner-uid=1000', '--owner-gid=1001'],
    ['--no-xattrs'],
    ['--no-bindings'],
    ['--orphan'],
    ['--bind-ref=other/ref'],
  ];
  for (const [i, extra] of variants.entries()) {
    for (const mode of ['archive', 'bare-user'] as const) {
      const [ours, theirs] = await bothCommit(path.join(dir, `v${i}`), mode, tree, extra);
      assert.equal(ours, theirs, `${extra.join(' ')} in ${mode}`);
    }
  }
});

test('a second commit on a branch takes the first as parent, as ostree does', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const tree = await makeBasicTree(path.join(dir, 'tree'));
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  await ok(ots('init', `--repo=${a}`, '--mode=archive'));
  await ok(ostree('init', `--repo=${b}`, '--mode=archive'));
  for (const ts of ['@1700000000', '@1700000100']) {
    const args = ['commit', '-b', 'main', `--tree=dir=${tree}`, `--timestamp=${ts}`, '-s', ts];
    assert.equal(await ok(ots(`--repo=${a}`, ...args)), await ok(ostree(`--repo=${b}`, ...args)));
  }
  const args = ['commit', '-b', 'main', `--tree=dir=${tree}`, '--timestamp=@1700000200', '--skip-if-unchanged'];
  const skipped = await ok(ots(`--repo=${a}`, ...args));
  assert.equal(skipped, await ok(ots(`--repo=${a}`, 'rev-parse', 'main')), 'skip-if-unchanged writes nothing new');
  assert.equal(await ok(ots(`--repo=${a}`, 'rev-parse', 'main^')), await ok(ostree(`--repo=${b}`, 'rev-parse', 'main^')));
});

test('a repository with a collection ID binds commits to it, as ostree does', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const tree = await makeBasicTree(path.join(dir, 'tree'));
  const sums: string[] = [];
  for (const [name, run] of [['ots', ots], ['ostree', ostree]] as const) {
    const repo = path.join(dir, name);
    await ok(run('init', `--repo=${repo}`, '--mode=archive', '--collection-id=org.example.Os'));
    sums.push(await ok(run(`--repo=${repo}`, 'commit', '-b', 'main', `--tree=dir=${tree}`, '--timestamp=@1700000000')));
    assert.equal(await ok(ostree(`--repo=${repo}`, 'config', 'get', 'core.collection-id')), 'org.example.Os');
  }
  assert.equal(sums[0], sums[1]);
});
