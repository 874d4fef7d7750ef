/**
 * Issue 3, acceptance 4: export then re-import gives the identical checksum,
 * xattrs included, in every compression; the real ostree imports our export
 * to the same commit, and we import `ostree export` to the same commit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { ok, ostree, ots, requireOstree, run, tempDir } from '../helpers/env.js';
import { makeHardlinkTree } from '../helpers/archives.js';
import { makeOwnedTree, makeRichTree, makeXattrTree } from '../helpers/trees.js';

const COMMIT = ['commit', '-b', 'os/x', '--timestamp=@1700000000', '-s', 'tree'];

test('export then re-import round-trips to the identical checksum, xattrs included', { timeout: 5 * 60 * 1000 }, async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const src = path.join(dir, 'src');
  // One tree holding every fixture: modes, setuid, symlinks, a large file, xattrs, capabilities, owners.
  await makeRichTree(src);
  await makeXattrTree(path.join(src, 'x'));
  await makeOwnedTree(path.join(src, 'owned'));
  await makeHardlinkTree(path.join(src, 'hl'));
  for (const mode of ['archive', 'bare'] as const) {
    const repo = path.join(dir, `repo-${mode}`);
    await ok(ots('init', `--repo=${repo}`, `--mode=${mode}`));
    const original = await ok(ots(`--repo=${repo}`, ...COMMIT, `--tree=dir=${src}`));
    const xattrs = await ok(ots(`--repo=${repo}`, 'ls', '-X', 'os/x', '/x/ping'));
    assert.match(xattrs, /user\.binary/, 'the tree carries xattrs');
    for (const ext of ['tar', 'tar.gz', 'tar.zst']) {
      const out = path.join(dir, `export-${mode}.${ext}`);
      await ok(ots(`--repo=${repo}`, 'export', 'os/x', `--output=${out}`), `export ${ext}`);
      const again = path.join(dir, `again-${mode}-${ext}`);
      await ok(ots('init', `--repo=${again}`, `--mode=${mode}`));
      const back = await ok(ots(`--repo=${again}`, ...COMMIT, `--tree=tar=${out}`), `re-import ${ext}`);
      assert.equal(back, original, `${mode} → ${ext} → ${mode}`);
      await run('rm', ['-rf', again]);
    }
    // The real ostree imports our (uncompressed) export to the same commit.
    const theirs = path.join(dir, `ostree-${mode}`);
    await ok(ostree('init', `--repo=${theirs}`, `--mode=${mode}`));
    const viaOstree = await ok(ostree(`--repo=${theirs}`, ...COMMIT, `--tree=tar=${path.join(dir, `export-${mode}.tar`)}`));
    assert.equal(viaOstree, original, `ostree imports our ${mode} export`);
    // And we import what `ostree export` writes as ostree itself does. (ostree
    // 2022.7's export drops xattrs, so its own round trip changes the tree.)
    const theirExport = path.join(dir, `ostree-export-${mode}.tar`);
    await ok(ostree(`--repo=${theirs}`, 'export', 'os/x', `--output=${theirExport}`));
    const theirs2 = path.join(dir, `ostree2-${mode}`);
    await ok(ostree('init', `--repo=${theirs2}`, `--mode=${mode}`));
    const reimported = await ok(ostree(`--repo=${theirs2}`, ...COMMIT, `--tree=tar=${theirExport}`));
    const ours = path.join(dir, `from-ostree-${mode}`);
    await ok(ots('init', `--repo=${ours}`, `--mode=${mode}`));
    assert.equal(await ok(ots(`--repo=${ours}`, ...COMMIT, `--tree=tar=${theirExport}`)), reimported, `we import ostree's ${mode} export as ostree does`);
  }
});

test('export --subpath, --prefix and --no-xattrs; GNU tar reads the result', async (t) => {
  const dir = await tempDir(t);
  const src = await makeRichTree(path.join(dir, 'src'));
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  await ok(ots(`--repo=${repo}`, ...COMMIT, `--tree=dir=${src}`));
  const out = path.join(dir, 'sub.tar.gz');
  await ok(ots(`--repo=${repo}`, 'export', 'os/x', '--subpath=/sub', '--prefix=rootfs/', '--no-xattrs', '-o', out));
  const names = (await ok(run('tar', ['-tzf', out]))).split('\n').sort();
  assert.deepEqual(names, ['rootfs/', 'rootfs/nested', 'rootfs/nested/deep.txt', 'rootfs/up-link'].sort());
  const x = path.join(dir, 'x');
  await ok(run('mkdir', [x]));
  await ok(run('tar', ['-xzf', out, '-C', x]));
  await ok(run('cmp', [path.join(src, 'sub', 'nested', 'deep.txt'), path.join(x, 'rootfs', 'nested', 'deep.txt')]));
  // A failed export leaves no partial file behind.
  const bad = await ots(`--repo=${repo}`, 'export', 'no-such-ref', '-o', path.join(dir, 'bad.tar'));
  assert.equal(bad.code, 1);
  assert.equal((await run('sh', ['-c', `ls ${dir} | grep -c bad || true`])).stdout.trim(), '0');
});

test('export of a commit with a missing object fails cleanly: the object named, no partial file', async (t) => {
  const dir = await tempDir(t);
  const src = await makeRichTree(path.join(dir, 'src'));
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  await ok(ots(`--repo=${repo}`, ...COMMIT, `--tree=dir=${src}`));
  const ls = (await ok(ots(`--repo=${repo}`, 'ls', '-R', '--json', 'os/x'))).split('\n').map((l) => JSON.parse(l) as { path: string; checksum: string });
  const nested = ls.find((e) => e.path === '/sub/nested');
  assert.ok(nested);
  await run('rm', ['-f', path.join(repo, 'objects', nested.checksum.slice(0, 2), `${nested.checksum.slice(2)}.dirtree`)]);
  const r = await ots(`--repo=${repo}`, 'export', 'os/x', '-o', path.join(dir, 'out.tar.gz'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(nested.checksum));
  assert.doesNotMatch(r.stderr, /unexpected failure/);
  assert.equal((await run('sh', ['-c', `ls -A ${dir} | grep -c out || true`])).stdout.trim(), '0', 'no partial output left');
});
