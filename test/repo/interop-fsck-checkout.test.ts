/**
 * Issue 2, acceptance 2: `ostree fsck` passes on repositories written by
 * ostree-ts (all four modes) and `ostree-ts fsck` on those written by ostree;
 * each tool's checkout of the other's commit yields identical trees.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { MODES, isRoot, ok, ostree, ots, requireOstree, tempDir } from '../helpers/env.js';
import { makeOwnedTree, makeRichTree, makeXattrTree } from '../helpers/trees.js';
import { snapshotTree } from '../helpers/snapshot.js';

async function buildSource(dir: string): Promise<string> {
  const tree = await makeRichTree(path.join(dir, 'src'));
  await makeXattrTree(path.join(tree, 'x'));
  await makeOwnedTree(path.join(tree, 'owned'));
  return tree;
}

/** What a checkout from `mode` can reproduce: bare-user-only keeps neither owners nor xattrs, and drops special bits. */
function expectFacts(mode: string): { owners: boolean; xattrs: boolean } {
  return mode === 'bare-user-only' ? { owners: false, xattrs: false } : { owners: isRoot, xattrs: true };
}

for (const mode of MODES) {
  test(`${mode}: each tool fscks and checks out the other's repository identically`, async (t) => {
    if (!(await requireOstree(t))) return;
    const dir = await tempDir(t);
    const tree = await buildSource(dir);
    const ourRepo = path.join(dir, 'ours');
    const theirRepo = path.join(dir, 'theirs');
    await ok(ots('init', `--repo=${ourRepo}`, `--mode=${mode}`));
    await ok(ostree('init', `--repo=${theirRepo}`, `--mode=${mode}`));
    const args = ['commit', '-b', 'main', `--tree=dir=${tree}`, '--timestamp=@1700000000', '-s', 'x'];
    const c1 = await ok(ots(`--repo=${ourRepo}`, ...args));
    const c2 = await ok(ostree(`--repo=${theirRepo}`, ...args));
    assert.equal(c1, c2);

    const theirFsck = await ostree('fsck', `--repo=${ourRepo}`);
    assert.equal(theirFsck.code, 0, `ostree fsck on our ${mode} repo:\n${theirFsck.stderr}${theirFsck.stdout}`);
    assert.match(theirFsck.stdout, /no errors found/);
    const ourFsck = await ots('fsck', `--repo=${theirRepo}`);
    assert.equal(ourFsck.code, 0, `ostree-ts fsck on ostree's ${mode} repo:\n${ourFsck.stderr}`);

    const facts = expectFacts(mode);
    const outs: Record<string, string> = {
      reference: path.join(dir, 'co-reference'),
      oursOfTheirs: path.join(dir, 'co-ours-of-theirs'),
      theirsOfOurs: path.join(dir, 'co-theirs-of-ours'),
      oursOfOurs: path.join(dir, 'co-ours-of-ours'),
    };
    await ok(ostree(`--repo=${theirRepo}`, 'checkout', 'main', outs.reference));
    await ok(ots(`--repo=${theirRepo}`, 'checkout', 'main', outs.oursOfTheirs));
    await ok(ostree(`--repo=${ourRepo}`, 'checkout', 'main', outs.theirsOfOurs));
    await ok(ots(`--repo=${ourRepo}`, 'checkout', 'main', outs.oursOfOurs));
    const reference = await snapshotTree(outs.reference, facts);
    assert.ok(reference.length > 30, 'the checkout holds the fixture tree');
    for (const [name, out] of Object.entries(outs)) {
      assert.deepEqual(await snapshotTree(out, facts), reference, `${name} (${mode}) differs from ostree's own checkout`);
    }
    if (mode !== 'bare-user-only') {
      // The source itself, as committed, is what comes back (directory modes, owners, xattrs, capabilities).
      const source = await snapshotTree(tree, facts);
      assert.deepEqual(reference.map((e) => ({ ...e, path: e.path })), source);
    }
  });
}

test('user-mode checkouts (-U) agree, and bare repositories hardlink', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const tree = await makeRichTree(path.join(dir, 'src'));
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=bare-user'));
  await ok(ots(`--repo=${repo}`, 'commit', '-b', 'main', `--tree=dir=${tree}`));
  await ok(ots(`--repo=${repo}`, 'checkout', '-U', '-H', 'main', path.join(dir, 'a')));
  await ok(ostree(`--repo=${repo}`, 'checkout', '-U', 'main', path.join(dir, 'b')));
  const facts = { owners: false, xattrs: false };
  assert.deepEqual(await snapshotTree(path.join(dir, 'a'), facts), await snapshotTree(path.join(dir, 'b'), facts));
  // A subpath checkout and a union checkout over it.
  await ok(ots(`--repo=${repo}`, 'checkout', '-U', '--subpath=/sub', 'main', path.join(dir, 'sub')));
  assert.deepEqual((await snapshotTree(path.join(dir, 'sub'), facts)).map((e) => e.path), ['/', 'nested', 'nested/deep.txt', 'up-link']);
  const again = await ots(`--repo=${repo}`, 'checkout', '-U', '--subpath=/sub', 'main', path.join(dir, 'sub'));
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already exists.*\nhint: pass --union\b/);
  await ok(ots(`--repo=${repo}`, 'checkout', '-U', '--union', '--subpath=/sub', 'main', path.join(dir, 'sub')));
  // An archive repository cannot hardlink.
  const arch = path.join(dir, 'arch');
  await ok(ots('init', `--repo=${arch}`, '--mode=archive'));
  await ok(ots(`--repo=${arch}`, 'commit', '-b', 'main', `--tree=dir=${tree}`));
  const h = await ots(`--repo=${arch}`, 'checkout', '-U', '-H', 'main', path.join(dir, 'h'));
  assert.equal(h.code, 1);
  assert.match(h.stderr, /Cannot hardlink/);
});
